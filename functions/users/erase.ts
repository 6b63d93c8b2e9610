import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultErasureService } from '../../shared/erasure/service.js';

/** DELETE /openai/users/{user_id}/data: everything of that user in the caller's organization. */
export const handler = apiHandler(routes.EraseUserData, ({ principal, params }) => defaultErasureService().request(principal, params.user_id));
