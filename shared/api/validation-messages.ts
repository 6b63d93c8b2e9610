import type * as z from 'zod/mini';

type RawIssue = z.core.$ZodRawIssue;
type Issue = z.core.$ZodIssue;

const typeOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;

/**
 * Our wording for zod's issues (zod/mini ships no messages of its own). Messages set on a schema
 * win over this.
 */
export function issueMessage(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${issue.expected === 'object' ? 'an object' : issue.expected === 'array' ? 'an array' : `a ${issue.expected}`}, not ${typeOf(issue.input)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
    case 'too_big':
      return `must be at most ${issue.maximum}${issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' entries' : ''}`;
    case 'too_small':
      return `must be at least ${issue.minimum}${issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' entries' : ''}`;
    default:
      return undefined;
  }
}

/**
 * One sentence naming the first field that failed, e.g. `Field "name" must not be empty.` or
 * `Unknown field "colour".`
 */
export function describeZodError(error: { issues: Issue[] }, where: 'body' | 'query'): string {
  const issue = error.issues[0];
  if (!issue) return where === 'body' ? 'The request body is not valid.' : 'The query is not valid.';
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => `"${path ? `${path}.` : ''}${key}"`).join(', ');
    return `Unknown ${where === 'body' ? 'field' : 'query parameter'}${issue.keys.length > 1 ? 's' : ''} ${names}.`;
  }
  if (!path) {
    if (issue.code === 'invalid_type') return where === 'body' ? 'The request body must be a JSON object.' : 'The query is not valid.';
    return sentence(issue.message);
  }
  return sentence(`${where === 'body' ? 'Field' : 'Query parameter'} "${path}" ${issue.message}`);
}

const sentence = (text: string): string => (/[.?!]$/.test(text) ? text : `${text}.`);

/** Validates input against a schema; the error is one sentence naming the field. */
export function validate<T>(
  schema: z.ZodMiniType<T>,
  input: unknown,
  where: 'body' | 'query',
): { ok: true; value: T } | { ok: false; message: string } {
  const result = schema.safeParse(input, { error: issueMessage });
  return result.success ? { ok: true, value: result.data } : { ok: false, message: describeZodError(result.error, where) };
}
