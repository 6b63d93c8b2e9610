import { apiHandler } from '../../shared/http/api-handler.js';
import { addMessage } from '../../shared/messages.js';
import { CreateMessageBody } from '../../shared/schemas/messages.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** POST /openai/sessions/{session_id}/messages: a message written elsewhere, stored as COMPLETED. */
export const handler = apiHandler(
  { params: SessionPathParams, notFoundName: 'Session', body: CreateMessageBody },
  async ({ principal, params, body }) => ({ status: 201, body: await addMessage(defaultDb(), principal, params.session_id, body) }),
);
