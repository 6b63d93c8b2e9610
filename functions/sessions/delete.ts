import { apiHandler } from '../../shared/http/api-handler.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { deleteSession } from '../../shared/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** DELETE /openai/sessions/{session_id}: the session with all its messages and tasks. */
export const handler = apiHandler({ params: SessionPathParams, notFoundName: 'Session' }, async ({ principal, params }) => {
  await deleteSession(defaultDb(), principal, params.session_id);
  return { status: 200, body: { deleted: true, session_id: params.session_id } };
});
