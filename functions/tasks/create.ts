import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultTaskStartService } from '../../shared/tasks/service.js';

/** POST /openai/sessions/{session_id}/ctx: a one-shot task, 202 at once; its result is polled. */
export const handler = apiHandler(routes.CreateTask, ({ principal, params, body }) => defaultTaskStartService().create(principal, params.session_id, body));
