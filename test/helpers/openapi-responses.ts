/**
 * Checks an answer of the API against docs/openapi.json: the operation its method and path name,
 * the status it answered, and that status's JSON schema (ajv, JSON Schema 2020-12, as OpenAPI 3.1
 * uses). Every answer the integration tests get through `client()` passes here, so the document
 * cannot drift from what the API answers.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

const document = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs', 'openapi.json'), 'utf8')) as {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>;
  components: object;
};
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();
const validatorFor = (key: string, schema: object): ValidateFunction => {
  let validate = compiled.get(key);
  if (!validate) {
    // Component references (#/components/schemas/...) resolve against the document's own components.
    validate = ajv.compile({ ...schema, components: document.components });
    compiled.set(key, validate);
  }
  return validate;
};

const templates = Object.keys(document.paths).map((template) => ({
  template,
  pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
}));

/**
 * The problems of one answer against the document, or [] when it conforms. An answer to a path the
 * document does not have must be an error in the contract's shape.
 */
export function openApiProblems(method: string, path: string, status: number, body: unknown): string[] {
  const pathname = path.split('?')[0]!;
  const template = templates.find((candidate) => candidate.pattern.test(pathname))?.template;
  const operation = template ? document.paths[template]![method.toLowerCase()] : undefined;
  if (!operation) {
    if (status < 400) return [`${method} ${pathname} answered ${status}, but the document has no such operation`];
    return validate(`Error`, { $ref: '#/components/schemas/Error' }, body, `${method} ${pathname} ${status}`);
  }
  const response = operation.responses[String(status)];
  if (!response) return [`${method} ${template} answered ${status}, which the document does not list`];
  const schema = response.content?.['application/json']?.schema;
  if (!schema) return [];
  return validate(`${method} ${template} ${status}`, schema, body, `${method} ${template} ${status}`);
}

function validate(key: string, schema: object, body: unknown, where: string): string[] {
  const check = validatorFor(key, schema);
  if (check(body)) return [];
  return (check.errors ?? []).map((error) => `${where}: ${error.instancePath || '(body)'} ${error.message}`);
}
