// zod/mini rather than classic zod: the same schemas at a tenth of the import time, which every API
// handler pays on a cold start.
import * as z from 'zod/mini';
import { ID_PATTERN } from './ids.js';
import { LIMITS } from './limits.js';

/** An id in a path or cursor: one of ours, or it names nothing. */
export const IdSchema = z.string().check(z.regex(ID_PATTERN, 'must be an id returned by this API'));

/** `limit` from a query string: a whole number in 1..max. */
export const limitParam = (max: number) => {
  const message = `must be a whole number from 1 to ${max}`;
  return z._default(
    z.pipe(
      z.string().check(z.regex(/^\d+$/, message)),
      z.pipe(z.transform(Number), z.number().check(z.minimum(1, message), z.maximum(max, message))),
    ),
    LIMITS.defaultPageSize,
  );
};

/** A boolean flag from a query string. */
export const booleanParam = z._default(
  z.pipe(z.enum(['true', 'false', '1', '0'], 'must be true or false'), z.transform((value) => value === 'true' || value === '1')),
  false,
);

/** Text a person wrote: a message, a task, a system prompt. */
export const textField = (max: number = LIMITS.maxTextChars) =>
  z.string().check(z.maxLength(max, `must be at most ${max} characters`));

/** The body of an error answer, as the contract fixes it. */
export const ErrorBodySchema = z
  .object({
    error: z.string(),
    code: z.string(),
    request_id: z.optional(z.string()),
  })
  .register(z.globalRegistry, { id: 'Error', description: 'Every error: a sentence a person can act on and a machine code.' });

/** A page of a list answer: the items, whether more follow, and the cursor to pass back as `after`. */
export const pageOf = <T extends z.ZodMiniType>(item: T, id: string) =>
  z.object({ items: z.array(item), has_more: z.boolean(), next: z.nullable(z.string()) }).register(z.globalRegistry, { id });

/** The most a GET may wait for its object to finish. */
export const WAIT_MAX_SECONDS = 20;

/** `?wait=<1..20>` on a message's or a task's GET: answer once it has finished, or after that many seconds. */
export const WaitQuery = z.object({
  wait: z.optional(
    z.pipe(
      z.string().check(z.regex(/^\d+$/, `must be a whole number of seconds from 1 to ${WAIT_MAX_SECONDS}`)),
      z.pipe(
        z.transform(Number),
        z.number().check(
          z.minimum(1, `must be a whole number of seconds from 1 to ${WAIT_MAX_SECONDS}`),
          z.maximum(WAIT_MAX_SECONDS, `must be a whole number of seconds from 1 to ${WAIT_MAX_SECONDS}`),
        ),
      ),
    ),
  ),
});
export type WaitQuery = z.infer<typeof WaitQuery>;
