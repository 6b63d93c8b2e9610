import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageService } from '../../shared/messages/service.js';

/** DELETE /openai/sessions/{session_id}/messages/{message_id} */
export const handler = apiHandler(routes.DeleteMessage, async ({ principal, params }) => {
  await defaultMessageService().remove(principal, params.session_id, params.message_id);
  return { deleted: true as const, message_id: params.message_id };
});
