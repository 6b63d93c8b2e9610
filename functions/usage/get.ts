import { apiHandler } from '../../shared/api/handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultUsageService } from '../../shared/usage/service.js';

/** GET /openai/usage */
export const handler = apiHandler(routes.GetUsage, ({ principal, query }) => defaultUsageService().report(principal, query));
