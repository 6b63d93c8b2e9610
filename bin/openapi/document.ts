import * as z from 'zod/mini';
import { createDocument } from 'zod-openapi';
import { ROUTES } from '../../shared/contract/routes.js';
import { ErrorBodySchema } from '../../shared/platform/schema-parts.js';

const ERRORS: Record<string, string> = {
  '400': 'Bad input: the sentence names the field.',
  '401': 'No token, or an invalid one.',
  '403': 'No active organization, or not the session owner.',
  '404': 'Not found (also anything of another tenant or user).',
  '409': 'State conflict: an ended session, or an Idempotency-Key still in use.',
  '413': 'Body over 256 KB.',
  '415': 'Body that is not JSON.',
  '422': 'Idempotency-Key reused for another request.',
  '429': 'Rate limited: see Retry-After.',
  '500': 'Unexpected: quote request_id.',
  '503': 'Briefly unavailable: see Retry-After.',
};

/**
 * The OpenAPI 3.1 document of the API, made from the route definitions (shared/contract/routes.ts):
 * the same schemas the handlers validate with. `npm run openapi` writes it to docs/openapi.json.
 */
export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES.filter((candidate) => candidate.path !== '$default')) {
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.name,
      summary: route.summary,
      security: [{ clerk: [] }],
      requestParams: {
        ...(route.params ? { path: route.params } : {}),
        ...(route.query ? { query: route.query } : {}),
        ...(route.idempotent ? { header: z.object({ 'idempotency-key': z.optional(z.string()) }) } : {}),
        ...(route.stream ? { header: z.object({ 'last-event-id': z.optional(z.string()) }) } : {}),
      },
      ...(route.body ? { requestBody: { content: { 'application/json': { schema: route.body } } } } : {}),
      responses: {
        [String(route.status)]: route.stream
          ? {
              description:
                'Server-Sent Events: `delta` events (`data: {"content": "<text added>"}`, `id:` the characters sent so far, ' +
                'for `Last-Event-ID`), then one `done` whose data is the object as its GET returns it; `: keep-alive` comments ' +
                'at least every 15 s; the stream may end after 5 minutes without `done` (resume with `Last-Event-ID`).',
              content: { 'text/event-stream': { schema: z.string() } },
            }
          : { description: 'OK', content: { 'application/json': { schema: route.response } } },
        ...Object.fromEntries(
          Object.entries(ERRORS).map(([status, description]) => [status, { description, content: { 'application/json': { schema: ErrorBodySchema } } }]),
        ),
      },
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'AI chat backend',
      version: '1.0.0',
      description: 'Multi-tenant AI chat sessions: asks and context tasks answered asynchronously. See docs/api.md.',
    },
    servers: [{ url: '/', description: 'The API base URL without /openai (locally http://127.0.0.1:3000)' }],
    components: { securitySchemes: { clerk: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A Clerk session token' } } },
    paths: paths as never,
  });
}
