import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultTaskService } from '../../shared/tasks/service.js';

/** GET /openai/sessions/{session_id}/ctx/{ctx_id} */
export const handler = apiHandler(routes.GetTask, ({ principal, params, query }) =>
  defaultTaskService().get(principal, params.session_id, params.ctx_id, query.wait),
);
