import { apiHandler } from '../../shared/http/api-handler.js';
import { SessionPathParams, UpdateSessionBody } from '../../shared/schemas/sessions.js';
import { updateSession } from '../../shared/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** PATCH /openai/sessions/{session_id}: rename, change the system prompt, or end. */
export const handler = apiHandler(
  { params: SessionPathParams, notFoundName: 'Session', body: UpdateSessionBody },
  async ({ principal, params, body }) => ({
    status: 200,
    body: await updateSession(defaultDb(), principal, params.session_id, body),
  }),
);
