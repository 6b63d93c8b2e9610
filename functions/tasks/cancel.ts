import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultTaskCancelService } from '../../shared/tasks/service.js';

/** POST /openai/sessions/{session_id}/ctx/{ctx_id}/cancel */
export const handler = apiHandler(routes.CancelTask, ({ principal, params }) => defaultTaskCancelService().cancel(principal, params.session_id, params.ctx_id));
