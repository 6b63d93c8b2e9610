import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { WEBHOOK_RETRY_SECONDS } from '../contract/queues.js';
import { retryJobLater } from '../jobs/job-queue.js';
import { env } from '../platform/env.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { observedWorker, recordBody } from '../platform/observed-worker.js';
import { deliverOnce } from './delivery.js';
import { QueuedEvent } from './schema.js';
import { webhookSettings } from './webhook-settings.js';

/** A record that failed, to come back after the wait already set on it. */
class TryLater extends Error {}

/**
 * The waits after each failed try (Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h; locally `LOCAL_WEBHOOK_RETRY_SECONDS` may shorten it).
 */
const schedule = (): readonly number[] => env.webhookRetrySeconds() ?? WEBHOOK_RETRY_SECONDS;

/**
 * The consumer of the webhooks queue: the events of a batch are delivered side by side, so a slow
 * receiver (10 s at most) delays no other organization's events, and no answer waits on any of them.
 * A failed try comes back after the next wait of the schedule (the message's visibility, set here);
 * after the last, the event goes to the dead-letter queue, where an alarm watches. An organization
 * that has no webhook any more gets nothing; a record that is not an event is dropped, logged.
 */
export function webhookWorker() {
  return observedWorker(async (event, context) => {
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const queued = recordBody(record, QueuedEvent, 'the webhooks queue');
      if (!queued) return;
      const webhook = await webhookSettings(queued.org_id);
      if (!webhook) {
        logger.info('dropped an event: the organization has no webhook now', { event_id: queued.id });
        return;
      }
      const result = await deliverOnce(webhook, queued);
      const tries = Number(record.attributes.ApproximateReceiveCount ?? 1);
      if (result.delivered) {
        addMetric('WebhookDelivered', MetricUnit.Count, 1);
        logger.info('webhook event delivered', { event_id: queued.id, type: queued.body.type, status: result.status, tries });
        return;
      }
      addMetric('WebhookFailed', MetricUnit.Count, 1);
      const waits = schedule();
      // After the last wait, the next receive moves the event to the dead-letter queue.
      const wait = tries <= waits.length ? waits[tries - 1]! : 0;
      logger.warn('webhook event not delivered', { event_id: queued.id, type: queued.body.type, reason: result.reason, tries, next_try_in_seconds: tries <= waits.length ? wait : null });
      await retryJobLater('webhooks', record.receiptHandle, wait);
      throw new TryLater(result.reason);
    };
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), { context, throwOnFullBatchFailure: false });
  });
}
