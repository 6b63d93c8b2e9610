import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultAskService } from '../../shared/messages/service.js';

/** POST /openai/sessions/{session_id}/ask: 202 at once; the answer is polled as a message. */
export const handler = apiHandler(routes.Ask, ({ principal, params, body }) => defaultAskService().ask(principal, params.session_id, body));
