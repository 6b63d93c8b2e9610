import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { QUEUES, type QueueId } from '../contract/queues.js';
import { env, VARIABLES } from '../platform/env.js';
import { traced } from '../platform/tracing.js';
import type { Job } from './job-schema.js';

/** Where the services put jobs. */
export interface JobQueue {
  /** Puts a job on its queue; throws when the queue cannot take it. */
  enqueue(job: Job): Promise<void>;
}

let client: SQSClient | undefined;
const sqs = (): SQSClient => (client ??= traced(new SQSClient({})));

/** The URL of a queue, from the variable its definition names. */
function queueUrlOf(queue: QueueId): string {
  const url = env[QUEUES[queue].urlVariable]();
  if (!url) throw new Error(`${VARIABLES[QUEUES[queue].urlVariable]} is not set`);
  return url;
}

/**
 * Sends one message to one of the stack's queues (a job, an event, an erasure).
 * @example await sendToQueue('webhooks', JSON.stringify(event));
 */
export async function sendToQueue(queue: QueueId, body: string, options: { delaySeconds?: number } = {}): Promise<void> {
  await sqs().send(new SendMessageCommand({ QueueUrl: queueUrlOf(queue), MessageBody: body, ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}) }));
}

/**
 * The job queues on SQS. Asks go to the FIFO queue with one message group per session (turns in
 * order) and the assistant message id as deduplication id (a retried send is not a second job).
 * Tasks go to the standard queue with one message group per organization: SQS fair queues then
 * deliver another organization's tasks first while one has a backlog (no order is implied).
 */
export const sqsJobQueue: JobQueue = {
  async enqueue(job) {
    const group = job.kind === 'ask' ? { MessageGroupId: job.session_id, MessageDeduplicationId: job.message_id } : { MessageGroupId: job.org_id };
    await sqs().send(new SendMessageCommand({ QueueUrl: queueUrlOf(job.kind), MessageBody: JSON.stringify(job), ...group }));
  },
};

/**
 * Puts a received job back on its queue as a new message, for a job that was not tried (no time
 * left, or its organization at its cap in flight): unlike a release, it uses up none of the job's
 * receives, so a job that waits never reaches the dead-letter queue untried. (On the FIFO queue it goes behind its session's later
 * jobs; each job answers its session's waiting turns in order, so the order holds.)
 */
export async function requeueJob(job: Job, previousMessageId: string, delaySeconds = 0): Promise<void> {
  // A FIFO queue takes no delay per message: the ask comes back at once.
  const placement =
    job.kind === 'ask'
      ? { MessageGroupId: job.session_id, MessageDeduplicationId: `${job.message_id}:${previousMessageId}`.slice(0, 128) }
      : { MessageGroupId: job.org_id, DelaySeconds: Math.min(900, Math.max(0, Math.round(delaySeconds))) };
  await sqs().send(new SendMessageCommand({ QueueUrl: queueUrlOf(job.kind), MessageBody: JSON.stringify(job), ...placement }));
}

/** Makes a received message come back after `seconds` (SQS's own backoff for a retry). */
export async function retryJobLater(queue: QueueId, receiptHandle: string, seconds: number): Promise<void> {
  await sqs().send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrlOf(queue),
      ReceiptHandle: receiptHandle,
      VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(seconds))),
    }),
  );
}
