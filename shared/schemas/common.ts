import { z } from 'zod';
import { ID_PATTERN } from '../ids.js';
import { LIMITS } from '../limits.js';

/** An id in a path or cursor: one of ours, or it names nothing. */
export const IdSchema = z.string().regex(ID_PATTERN, 'must be an id returned by this API');

/** `limit` from a query string: a whole number in 1..max. */
export const limitParam = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be a whole number from 1 to ${max}`).max(max, `must be a whole number from 1 to ${max}`))
    .optional()
    .default(LIMITS.defaultPageSize);

/** A boolean flag from a query string. */
export const booleanParam = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1')
  .optional()
  .default(false);

/** Text a person wrote: a message, a task, a system prompt. */
export const textField = (max: number = LIMITS.maxTextChars) =>
  z.string().max(max, `must be at most ${max} characters`);

/** The body of an error answer, as the contract fixes it. */
export const ErrorBodySchema = z
  .object({
    error: z.string().meta({ description: 'A sentence a person can act on.' }),
    code: z.string().meta({ description: 'A machine-readable code.' }),
    request_id: z.string().optional().meta({ description: 'Present on 500s: quote it when reporting the problem.' }),
  })
  .meta({ id: 'Error' });
