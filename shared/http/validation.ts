import type { z } from 'zod';

/**
 * One sentence naming the first field that failed, e.g. `Field "name" must not be empty.` or
 * `Unknown field "colour".`
 */
export function describeZodError(error: z.ZodError, where: 'body' | 'query'): string {
  const issue = error.issues[0];
  if (!issue) return where === 'body' ? 'The request body is not valid.' : 'The query is not valid.';
  const path = issue.path.map(String).join('.');
  const noun = where === 'body' ? 'Field' : 'Query parameter';
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((key) => `"${path ? `${path}.` : ''}${key}"`).join(', ');
    return `Unknown ${where === 'body' ? 'field' : 'query parameter'}${issue.keys.length > 1 ? 's' : ''} ${names}.`;
  }
  if (!path) {
    if (issue.code === 'invalid_type') return where === 'body' ? 'The request body must be a JSON object.' : 'The query is not valid.';
    return sentence(issue.message);
  }
  if (issue.code === 'invalid_type' && / received undefined$/.test(issue.message)) return `${noun} "${path}" is required.`;
  return `${noun} "${path}" ${lowerFirst(issue.message)}${issue.message.endsWith('.') ? '' : '.'}`;
}

const lowerFirst = (text: string): string => {
  // zod's own messages read "Invalid input: expected string, received number".
  const cleaned = text.replace(/^Invalid input: /, 'is invalid: ');
  return cleaned.charAt(0).toLowerCase() + cleaned.slice(1);
};

const sentence = (text: string): string => (text.endsWith('.') ? text : `${text}.`);
