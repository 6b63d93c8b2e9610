import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageService } from '../../shared/messages/service.js';

/** GET /openai/sessions/{session_id}/messages */
export const handler = apiHandler(routes.ListMessages, ({ principal, params, query }) => defaultMessageService().list(principal, params.session_id, query));
