import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageCancelService } from '../../shared/messages/service.js';

/** POST /openai/sessions/{session_id}/messages/{message_id}/cancel */
export const handler = apiHandler(routes.CancelMessage, ({ principal, params }) =>
  defaultMessageCancelService().cancel(principal, params.session_id, params.message_id),
);
