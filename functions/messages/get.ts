import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageService } from '../../shared/messages/service.js';

/** GET /openai/sessions/{session_id}/messages/{message_id}: what pollers read. */
export const handler = apiHandler(routes.GetMessage, ({ principal, params, query }) =>
  defaultMessageService().get(principal, params.session_id, params.message_id, query.wait),
);
