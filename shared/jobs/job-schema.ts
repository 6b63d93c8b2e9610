import * as z from 'zod/mini';
import { IdSchema } from '../platform/schema-parts.js';

/**
 * An ask job: "answer the next waiting ask of this session". It names the ask that made it, but the
 * worker always answers the session's oldest waiting ask first, so turns are answered in id order
 * whatever order the jobs arrive in. Its body holds keys only; the request itself is in the table.
 */
export const AskJob = z.object({
  kind: z.literal('ask'),
  org_id: z.string(),
  session_id: IdSchema,
  message_id: IdSchema,
  enqueued_at: z.string(),
});
export type AskJob = z.infer<typeof AskJob>;

/** A task job: answer this one task. Its `kind` is the task queue's id, `ctx`, as the URLs say. */
export const TaskJob = z.object({
  kind: z.literal('ctx'),
  org_id: z.string(),
  session_id: IdSchema,
  ctx_id: IdSchema,
  enqueued_at: z.string(),
});
export type TaskJob = z.infer<typeof TaskJob>;

export const Job = z.discriminatedUnion('kind', [AskJob, TaskJob]);
export type Job = z.infer<typeof Job>;
