import { apiHandler } from '../../shared/http/api-handler.js';
import { ListSessionsQuery } from '../../shared/schemas/sessions.js';
import { listSessions } from '../../shared/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** GET /openai/sessions */
export const handler = apiHandler({ query: ListSessionsQuery }, async ({ principal, query }) => ({
  status: 200,
  body: await listSessions(defaultDb(), principal, query),
}));
