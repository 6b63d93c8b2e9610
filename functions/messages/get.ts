import { apiHandler } from '../../shared/http/api-handler.js';
import { getMessage } from '../../shared/messages.js';
import { MessagePathParams } from '../../shared/schemas/messages.js';
import { defaultDb } from '../../shared/store/db.js';

/** GET /openai/sessions/{session_id}/messages/{message_id}: what pollers read. */
export const handler = apiHandler({ params: MessagePathParams, notFoundName: 'Message' }, async ({ principal, params }) => ({
  status: 200,
  body: await getMessage(defaultDb(), principal, params.session_id, params.message_id),
}));
