import { apiHandler } from '../../shared/http/api-handler.js';
import { TaskPathParams } from '../../shared/schemas/messages.js';
import { defaultDb } from '../../shared/store/db.js';
import { getTask } from '../../shared/tasks.js';

/** GET /openai/sessions/{session_id}/ctx/{ctx_id} */
export const handler = apiHandler({ params: TaskPathParams, notFoundName: 'Context task' }, async ({ principal, params }) => ({
  status: 200,
  body: await getTask(defaultDb(), principal, params.session_id, params.ctx_id),
}));
