import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultSessionService } from '../../shared/sessions/service.js';

/** GET /openai/sessions */
export const handler = apiHandler(routes.ListSessions, ({ principal, query }) => defaultSessionService().list(principal, query));
