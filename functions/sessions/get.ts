import { apiHandler } from '../../shared/http/api-handler.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { getSession } from '../../shared/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** GET /openai/sessions/{session_id} */
export const handler = apiHandler({ params: SessionPathParams, notFoundName: 'Session' }, async ({ principal, params }) => ({
  status: 200,
  body: await getSession(defaultDb(), principal, params.session_id),
}));
