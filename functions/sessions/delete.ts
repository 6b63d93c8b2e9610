import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultSessionService } from '../../shared/sessions/service.js';

/** DELETE /openai/sessions/{session_id}: the session with all its messages and tasks. */
export const handler = apiHandler(routes.DeleteSession, async ({ principal, params }) => {
  await defaultSessionService().remove(principal, params.session_id);
  return { deleted: true as const, session_id: params.session_id };
});
