import type { Variable } from '../platform/env.js';

/**
 * The job queues, defined once for the CDK stack and the local stack. Asks go through a FIFO queue
 * with one message group per session (turns answered in order); tasks through a standard queue (no
 * order between them). Each has a dead-letter queue whose consumer marks the job failed.
 */
export interface QueueDefinition {
  /** The queue's id in deployed names and CDK ids (`dev-ask.fifo`, `ctxQueue`): the tasks' keeps the URLs' `ctx`. */
  readonly id: 'ask' | 'ctx';
  readonly fifo: boolean;
  /** The variable that gives a function this queue's URL (platform/env.ts). */
  readonly urlVariable: Extract<Variable, 'askQueueUrl' | 'taskQueueUrl'>;
}

export type QueueId = QueueDefinition['id'];

export const QUEUES = {
  ask: { id: 'ask', fifo: true, urlVariable: 'askQueueUrl' },
  ctx: { id: 'ctx', fifo: false, urlVariable: 'taskQueueUrl' },
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
