import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageService } from '../../shared/messages/service.js';

/** POST /openai/sessions/{session_id}/messages: a message written elsewhere, stored as COMPLETED. */
export const handler = apiHandler(routes.CreateMessage, ({ principal, params, body }) => defaultMessageService().add(principal, params.session_id, body));
