import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultSessionService } from '../../shared/sessions/service.js';

/** GET /openai/sessions/{session_id} */
export const handler = apiHandler(routes.GetSession, ({ principal, params }) => defaultSessionService().get(principal, params.session_id));
