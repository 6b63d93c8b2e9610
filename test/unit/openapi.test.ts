import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATIONS, openApiDocument } from '../../shared/http/openapi.js';
import { ROUTES } from '../../shared/routes.js';
import { PROJECT_ROOT } from '../helpers/local-api.js';

describe('the OpenAPI document', () => {
  const document = openApiDocument() as any;

  it('is the committed docs/openapi.json (run `npm run openapi` after changing a route or schema)', () => {
    const committed = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(document)));
  });

  it('describes every route of the route table, and nothing else', () => {
    const operations = Object.entries(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
    );
    const routes = ROUTES.filter((route) => route.path !== '$default').map((route) => `${route.method} ${route.path} ${route.name}`);
    expect(operations.sort()).toEqual(routes.sort());
    expect(Object.keys(OPERATIONS).sort()).toEqual(ROUTES.filter((route) => route.path !== '$default').map((route) => route.name).sort());
  });

  it('shows the strictness of the request schemas and the contract’s error body', () => {
    expect(document.components.schemas.AskBody).toMatchObject({
      required: ['message'],
      additionalProperties: false,
      properties: { message: { maxLength: 100_000 }, history: { maxItems: 200 } },
    });
    expect(document.components.schemas.Error).toMatchObject({ required: ['error', 'code'] });
    expect(document.paths['/openai/sessions/{session_id}/ask'].post.responses['202'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/AskAccepted',
    });
  });
});
