/**
 * The job queues: one definition for the CDK stack and the local stack. Asks go through a FIFO
 * queue with one message group per session (turns answered in order); ctx tasks through a standard
 * queue (no order between them). Each has a dead-letter queue whose consumer marks the job failed.
 */
export interface QueueDefinition {
  /** Logical id, e.g. in CDK ids and env var names (`ASK_QUEUE_URL`). */
  readonly id: 'ask' | 'ctx';
  readonly fifo: boolean;
}

export const QUEUES: readonly QueueDefinition[] = [
  { id: 'ask', fifo: true },
  { id: 'ctx', fifo: false },
];

/** How long one worker invocation may run. */
export const WORKER_TIMEOUT_SECONDS = 120;

export const QUEUE_SETTINGS = {
  /** AWS's advice for Lambda consumers: at least six times the function's timeout. */
  visibilityTimeoutSeconds: 6 * WORKER_TIMEOUT_SECONDS,
  /** Receives before a job is moved to its dead-letter queue. */
  maxReceiveCount: 5,
  /** Records per worker invocation. */
  batchSize: 5,
  /** Dead letters are kept for the 14 days SQS allows. */
  deadLetterRetentionSeconds: 14 * 24 * 3600,
} as const;

/** A queue's name for a stage, e.g. `dev-ask.fifo`; the dead-letter queue's adds `-dlq`. */
export function queueName(stage: string, queue: QueueDefinition, deadLetter = false): string {
  return `${stage}-${queue.id}${deadLetter ? '-dlq' : ''}${queue.fifo ? '.fifo' : ''}`;
}
