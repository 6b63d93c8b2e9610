import { apiHandler } from '../../shared/http/api-handler.js';
import { deleteMessage } from '../../shared/messages.js';
import { MessagePathParams } from '../../shared/schemas/messages.js';
import { defaultDb } from '../../shared/store/db.js';

/** DELETE /openai/sessions/{session_id}/messages/{message_id} */
export const handler = apiHandler({ params: MessagePathParams, notFoundName: 'Message' }, async ({ principal, params }) => {
  await deleteMessage(defaultDb(), principal, params.session_id, params.message_id);
  return { status: 200, body: { deleted: true, message_id: params.message_id } };
});
