/**
 * The client library's types (client/src/types.ts), generated from docs/openapi.json: every schema
 * of the document's components as a TypeScript type, so that the client is typed from the same
 * schemas the API validates with and answers in (`npm run openapi` writes both; a test checks that
 * the committed file is what the document gives).
 */

type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  description?: string;
};

const INDENT = '  ';
/** Schema names that would shadow a global of the client's code. */
const RENAMED: Record<string, string> = { Error: 'ErrorBody' };
const typeName = (name: string) => RENAMED[name] ?? name;

/** A JSON Schema (the subset the document uses) as a TypeScript type expression. */
function typeOf(schema: JsonSchema, depth: number): string {
  if (schema.$ref) return typeName(schema.$ref.split('/').pop()!);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.map((value) => JSON.stringify(value)).join(' | ');
  if (schema.anyOf) return schema.anyOf.map((part) => typeOf(part, depth)).join(' | ');
  const types = schema.type === undefined ? [] : [schema.type].flat();
  if (!types.length) return 'unknown';
  return types
    .map((type) => {
      switch (type) {
        case 'string':
          return 'string';
        case 'number':
        case 'integer':
          return 'number';
        case 'boolean':
          return 'boolean';
        case 'null':
          return 'null';
        case 'array':
          return `Array<${schema.items ? typeOf(schema.items, depth) : 'unknown'}>`;
        case 'object':
          return objectType(schema, depth);
        default:
          return 'unknown';
      }
    })
    .join(' | ');
}

function objectType(schema: JsonSchema, depth: number): string {
  const required = new Set(schema.required ?? []);
  const pad = INDENT.repeat(depth + 1);
  const fields = Object.entries(schema.properties ?? {}).map(
    ([name, property]) => `${pad}${/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name)}${required.has(name) ? '' : '?'}: ${typeOf(property, depth + 1)};`,
  );
  if (!fields.length) return 'Record<string, unknown>';
  return `{\n${fields.join('\n')}\n${INDENT.repeat(depth)}}`;
}

/**
 * The TypeScript source of the types of `document`'s component schemas.
 * @example writeFileSync('client/src/types.ts', clientTypes(JSON.parse(readFileSync('docs/openapi.json', 'utf8'))))
 */
export function clientTypes(document: {
  components: { schemas: Record<string, JsonSchema> };
  paths: Record<string, Record<string, { operationId?: string; responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }> }>>;
}): string {
  const types = Object.entries(document.components.schemas).map(([name, schema]) => `export type ${typeName(name)} = ${typeOf(schema, 0)};`);
  // What each operation answers on success (a stream route's events are not JSON: left out).
  const answers: string[] = [];
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations)) {
      const success = Object.entries(operation.responses ?? {}).find(([status]) => status.startsWith('2'))?.[1];
      const schema = success?.content?.['application/json']?.schema;
      if (operation.operationId && schema) answers.push(`/** What ${operation.operationId} answers on success. */\nexport type ${operation.operationId}Answer = ${typeOf(schema, 0)};`);
    }
  }
  return [
    '// Generated from docs/openapi.json by `npm run openapi` (bin/openapi/client-types.ts): do not edit.',
    '// The shapes the API takes and answers, as its OpenAPI document describes them.',
    '',
    ...types.flatMap((type) => [type, '']),
    ...answers.flatMap((type) => [type, '']),
  ].join('\n');
}
