import * as z from 'zod/mini';

/** `me`, or a user id of the organization (Clerk's `user_…`). */
export const ErasurePathParams = z.object({
  user_id: z.string().check(z.regex(/^[A-Za-z0-9_.:@|-]{1,128}$/, 'must be me or a user id')),
});

/** DELETE /openai/users/{user_id}/data */
export const ErasureAccepted = z
  .object({ status: z.literal('accepted') })
  .register(z.globalRegistry, { id: 'ErasureAccepted' });
export type ErasureAccepted = z.infer<typeof ErasureAccepted>;

/**
 * A pass of an erasure on the erasure queue: the rest of one the request could not finish, or the
 * pass after a finished one that removes what arrived late (a session the owner index had not shown
 * yet, usage counted by an answer finishing meanwhile).
 */
export const ErasureJob = z.object({
  kind: z.literal('erasure'),
  org_id: z.string(),
  user_id: z.string(),
  /** Sessions started after it are not part of the erasure. */
  requested_at: z.string(),
  /** The user or the admin who asked. */
  requested_by: z.optional(z.string()),
  /** The last pass: it sends no other. */
  follow_up: z.boolean(),
});
export type ErasureJob = z.infer<typeof ErasureJob>;
