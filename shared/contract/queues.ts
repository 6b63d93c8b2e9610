import type { Variable } from '../platform/env.js';

/**
 * The queues, defined once for the CDK stack and the local stack. Asks go through a FIFO queue with
 * one message group per session (turns answered in order); tasks through a standard queue (no order
 * between them); finished answers' and tasks' events to the organizations' webhooks through a queue
 * of their own (events/), and the rest of a user's erasure (erasure/) through another. Each has a
 * dead-letter queue; the job queues' consumers of it mark the job failed, and the others' are watched
 * by alarms.
 */
export interface QueueDefinition {
  /** The queue's id in deployed names and CDK ids (`dev-ask.fifo`, `ctxQueue`): the tasks' keeps the URLs' `ctx`. */
  readonly id: 'ask' | 'ctx' | 'webhooks' | 'erasure';
  readonly fifo: boolean;
  /** The variable that gives a function this queue's URL (platform/env.ts). */
  readonly urlVariable: Extract<Variable, 'askQueueUrl' | 'taskQueueUrl' | 'webhookQueueUrl' | 'erasureQueueUrl'>;
  /** Receives before a message goes to the dead-letter queue, when not QUEUE_SETTINGS.maxReceiveCount. */
  readonly maxReceiveCount?: number;
  /** How long a message is kept, when not SQS's 4 days. */
  readonly retentionSeconds?: number;
  /** When not QUEUE_SETTINGS.visibilityTimeoutSeconds: the consumer's timeout is shorter. */
  readonly visibilityTimeoutSeconds?: number;
}

export type QueueId = QueueDefinition['id'];

/** A webhook event is tried at once and then after each of these (Standard Webhooks' schedule, 27.6 hours in all). */
export const WEBHOOK_RETRY_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000] as const;

export const QUEUES = {
  ask: { id: 'ask', fifo: true, urlVariable: 'askQueueUrl' },
  ctx: { id: 'ctx', fifo: false, urlVariable: 'taskQueueUrl' },
  // Each try is one receive: the first and the seven retries, then the dead-letter queue. A retry's
  // wait is the message's visibility, set by the delivery when a try fails (at most SQS's 12 hours).
  webhooks: { id: 'webhooks', fifo: false, urlVariable: 'webhookQueueUrl', maxReceiveCount: WEBHOOK_RETRY_SECONDS.length + 1, retentionSeconds: 4 * 24 * 3600, visibilityTimeoutSeconds: 90 },
  // An erasure's passes: one that failed comes back after the visibility, 90 s (its worker runs 60 s at most).
  erasure: { id: 'erasure', fifo: false, urlVariable: 'erasureQueueUrl', visibilityTimeoutSeconds: 90 },
} as const satisfies Record<QueueId, QueueDefinition>;

/** How long one worker invocation may run. */
export const WORKER_TIMEOUT_SECONDS = 120;

export const QUEUE_SETTINGS = {
  /** AWS's advice for Lambda consumers: at least six times the function's timeout. */
  visibilityTimeoutSeconds: 6 * WORKER_TIMEOUT_SECONDS,
  /** Receives before a job is moved to its dead-letter queue. */
  maxReceiveCount: 5,
  /** Records per worker invocation (FIFO's most): answered side by side, so a fuller batch costs no more Lambda time. */
  batchSize: 10,
  /** Dead letters are kept for the 14 days SQS allows. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
} as const;

/** A queue's name for a stage, e.g. `dev-ask.fifo`; the dead-letter queue's adds `-dlq`. */
export function queueName(stage: string, queue: QueueDefinition, deadLetter = false): string {
  return `${stage}-${queue.id}${deadLetter ? '-dlq' : ''}${queue.fifo ? '.fifo' : ''}`;
}
