import { apiHandler } from '../../shared/http/api-handler.js';
import { askQuestion } from '../../shared/messages.js';
import { AskBody } from '../../shared/schemas/messages.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** POST /openai/sessions/{session_id}/ask: 202 at once; the answer is polled as a message. */
export const handler = apiHandler(
  { params: SessionPathParams, notFoundName: 'Session', body: AskBody, idempotent: true },
  async ({ principal, params, body }) => ({ status: 202, body: await askQuestion(defaultDb(), principal, params.session_id, body) }),
);
