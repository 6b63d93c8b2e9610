/**
 * The client library is typed from the API's OpenAPI document: client/src/types.ts is what
 * bin/openapi/client-types.ts makes of docs/openapi.json (npm run openapi writes both), and the
 * client calls every operation of the document with that operation's answer type.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientTypes } from '../../bin/openapi/client-types.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

const document = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.json'), 'utf8'));

it('has client/src/types.ts as docs/openapi.json gives it (run npm run openapi after changing a schema)', () => {
  expect(readFileSync(join(PROJECT_ROOT, 'client', 'src', 'types.ts'), 'utf8')).toBe(clientTypes(document));
});

it('calls every JSON operation of the document, and streams the two stream routes', () => {
  const source = readFileSync(join(PROJECT_ROOT, 'client', 'src', 'index.ts'), 'utf8');
  const operations = Object.values(document.paths as Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, unknown> }> }>>).flatMap(
    (methods) => Object.values(methods),
  );
  const json = operations.filter((operation) => Object.values(operation.responses).some((response) => response.content?.['application/json'])).map((operation) => operation.operationId);
  const missing = json.filter((operationId) => !operationId.startsWith('Stream') && !new RegExp(`http\\.json<${operationId}Answer>`).test(source));
  expect(missing).toEqual([]);
  expect(source).toMatch(/followStream<Message>\(http, `\$\{messagePath\(sessionId, messageId\)\}\/stream`/);
  expect(source).toMatch(/followStream<Task>\(http, `\$\{taskPath\(sessionId, ctxId\)\}\/stream`/);
});
