import * as z from 'zod/mini';

/** What finished: an answer (message) or a task, and how. */
export const EVENT_TYPES = ['message.completed', 'message.failed', 'message.cancelled', 'task.done', 'task.error', 'task.cancelled'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One event on the webhooks queue: the body POSTed (`{type, timestamp, data}`) and, beside it, what
 * the delivery needs: its id (`webhook-id`, the same on every try) and its organization.
 */
export const QueuedEvent = z.object({
  id: z.string(),
  org_id: z.string(),
  body: z.object({ type: z.enum(EVENT_TYPES), timestamp: z.string(), data: z.record(z.string(), z.unknown()) }),
});
export type QueuedEvent = z.infer<typeof QueuedEvent>;
