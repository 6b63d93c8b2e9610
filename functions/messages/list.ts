import { apiHandler } from '../../shared/http/api-handler.js';
import { listMessages } from '../../shared/messages.js';
import { ListMessagesQuery } from '../../shared/schemas/messages.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** GET /openai/sessions/{session_id}/messages */
export const handler = apiHandler(
  { params: SessionPathParams, notFoundName: 'Session', query: ListMessagesQuery },
  async ({ principal, params, query }) => ({ status: 200, body: await listMessages(defaultDb(), principal, params.session_id, query) }),
);
