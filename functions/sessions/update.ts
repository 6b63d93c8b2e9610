import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultSessionService } from '../../shared/sessions/service.js';

/** PATCH /openai/sessions/{session_id}: rename, change the system prompt, or end. */
export const handler = apiHandler(routes.UpdateSession, ({ principal, params, body }) =>
  defaultSessionService().update(principal, params.session_id, body),
);
