import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as z from 'zod/mini';
import { openApiDocument } from '../../bin/openapi/document.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { ROUTES, routes, type RouteDefinition } from '../../shared/contract/routes.js';

const committed = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.json'), 'utf8'));
const documented = ROUTES.filter((route) => route.path !== '$default');

/** The field names of an object schema (zod/mini keeps them on its definition). */
const fieldsOf = (schema: z.ZodMiniType | undefined): string[] =>
  Object.keys((schema as unknown as { _zod: { def: { shape?: Record<string, unknown> } } } | undefined)?._zod.def.shape ?? {}).sort();

/** A schema of the document, following a `$ref` to its component. */
const resolve = (schema: { $ref?: string; properties?: object }): { properties?: object; required?: string[] } =>
  schema.$ref ? committed.components.schemas[schema.$ref.split('/').pop()!] : schema;

describe('the OpenAPI document', () => {
  it('is what the route definitions make (run `npm run openapi` after changing a route or schema)', () => {
    expect(committed).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('names each route by its key in the route table', () => {
    for (const [key, route] of Object.entries(routes)) expect(route.name).toBe(key);
  });

  it('describes every route of the definitions, and nothing else', () => {
    const operations = Object.entries(committed.paths as Record<string, Record<string, { operationId: string }>>).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => `${method.toUpperCase()} ${path} ${operation.operationId}`),
    );
    expect(operations.sort()).toEqual(documented.map((route) => `${route.method} ${route.path} ${route.name}`).sort());
  });

  describe.each(documented.map((route) => [route.name, route] as [string, RouteDefinition]))('%s agrees with its definition', (_name, route) => {
    const operation = committed.paths[route.path][route.method.toLowerCase()];
    const parameters = (where: string): string[] =>
      (operation.parameters ?? []).filter((parameter: { in: string }) => parameter.in === where).map((parameter: { name: string }) => parameter.name).sort();

    it('on its summary and success status, and the schema of what that status answers', () => {
      expect(operation.summary).toBe(route.summary);
      expect(Object.keys(operation.responses).filter((status) => status.startsWith('2'))).toEqual([String(route.status)]);
      const success = operation.responses[String(route.status)];
      if (route.stream) {
        // A stream answers events; its `done` data (the route's response schema) is described in words.
        expect(Object.keys(success.content)).toEqual(['text/event-stream']);
        expect(success.description).toMatch(/`delta`.*`done`.*Last-Event-ID/s);
        return;
      }
      const answered = resolve(success.content['application/json'].schema);
      expect(Object.keys(answered.properties ?? {}).sort()).toEqual(fieldsOf(route.response));
    });

    it('on its path parameters and query', () => {
      expect(parameters('path')).toEqual(fieldsOf(route.params));
      expect(parameters('query')).toEqual(fieldsOf(route.query));
    });

    it('on its body', () => {
      if (!route.body) return expect(operation.requestBody).toBeUndefined();
      const body = resolve(operation.requestBody.content['application/json'].schema);
      expect(Object.keys(body.properties ?? {}).sort()).toEqual(fieldsOf(route.body));
    });

    it('on the Idempotency-Key and Last-Event-ID headers', () => {
      expect(parameters('header')).toEqual([...(route.idempotent ? ['idempotency-key'] : []), ...(route.stream ? ['last-event-id'] : [])]);
    });
  });

  it('shows the strictness of the request schemas and the contract’s error body', () => {
    expect(committed.components.schemas.AskBody).toMatchObject({
      required: ['message'],
      additionalProperties: false,
      properties: { message: { maxLength: 100_000 }, history: { maxItems: 200 } },
    });
    expect(committed.components.schemas.Error).toMatchObject({ required: ['error', 'code'] });
    expect(committed.paths['/openai/sessions/{session_id}/ask'].post.responses['202'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/AskAccepted',
    });
  });
});
