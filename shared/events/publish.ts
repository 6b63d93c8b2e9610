import { sendToQueue } from '../jobs/job-queue.js';
import { toMessage, type MessageItem } from '../messages/repository.js';
import { orgPolicy } from '../org-policy/policy.js';
import { env } from '../platform/env.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { toTask, type TaskItem } from '../tasks/repository.js';
import type { EventType, QueuedEvent } from './schema.js';

/** An SQS message holds 256 KB: an event larger than this goes without the answer's text. */
const MAX_EVENT_BYTES = 240 * 1024;

const MESSAGE_EVENTS: Record<string, EventType> = { COMPLETED: 'message.completed', FAILED: 'message.failed', CANCELLED: 'message.cancelled' };
const TASK_EVENTS: Record<string, EventType> = { done: 'task.done', error: 'task.error', cancelled: 'task.cancelled' };

/** Publishes the event of an item just settled (see {@link publishFinished}). */
export type PublishFinished = (orgId: string, finished: { message: MessageItem } | { task: TaskItem }) => Promise<void>;

/**
 * Puts the event of an answer or a task that has just finished on the webhooks queue, if its
 * organization has a webhook; the delivery (events/delivery.ts) signs and sends it. Called once, by
 * whoever settled the item. The event's id is the item's, so a receiver can tell a retry (or a rare
 * second publication) from a new event. A failure to queue is logged and measured, never thrown:
 * the answer is settled whatever becomes of its event.
 */
export const publishFinished: PublishFinished = async (orgId, finished) => {
  try {
    if (!env.webhookQueueUrl() || !(await orgPolicy(orgId)).webhook) return;
    const [type, data, itemId] =
      'message' in finished
        ? [MESSAGE_EVENTS[finished.message.status], toMessage(finished.message), finished.message.message_id]
        : [TASK_EVENTS[finished.task.status], toTask(finished.task), finished.task.ctx_id];
    if (!type) return;
    const event: QueuedEvent = { id: `evt_${itemId}`, org_id: orgId, body: { type, timestamp: new Date().toISOString(), data: { ...data, org_id: orgId } } };
    let body = JSON.stringify(event);
    if (Buffer.byteLength(body, 'utf8') > MAX_EVENT_BYTES) {
      // The receiver reads the text with a GET of the object.
      const { content: _content, result: _result, result_json: _json, ...rest } = event.body.data as Record<string, unknown>;
      body = JSON.stringify({ ...event, body: { ...event.body, data: { ...rest, truncated: true } } });
    }
    await sendToQueue('webhooks', body);
  } catch (error) {
    addMetric('EventNotQueued', MetricUnit.Count, 1);
    logger.error('could not queue a webhook event', { error: (error as Error).name });
  }
};
