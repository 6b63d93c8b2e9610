import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultSessionService } from '../../shared/sessions/service.js';

/** POST /openai/sessions */
export const handler = apiHandler(routes.CreateSession, ({ principal, body }) => defaultSessionService().create(principal, body));
