import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { config } from '../config.js';
import { tracer } from '../observability.js';
import type { Job } from '../schemas/jobs.js';

let client: SQSClient | undefined;
const sqs = (): SQSClient => (client ??= tracer.captureAWSv3Client(new SQSClient({})));

const queueUrlOf = (kind: Job['kind']): string => (kind === 'ask' ? config.askQueueUrl() : config.ctxQueueUrl());

/**
 * Puts a job on its queue. Asks go to the FIFO queue with one message group per session (turns in
 * order) and the assistant message id as deduplication id (a retried send is not a second job).
 */
export async function enqueueJob(job: Job): Promise<void> {
  const fifo = job.kind === 'ask' ? { MessageGroupId: job.session_id, MessageDeduplicationId: job.message_id } : {};
  await sqs().send(new SendMessageCommand({ QueueUrl: queueUrlOf(job.kind), MessageBody: JSON.stringify(job), ...fifo }));
}

/** Makes a received job come back after `seconds` (SQS's own backoff for a retry). */
export async function retryJobLater(kind: Job['kind'], receiptHandle: string, seconds: number): Promise<void> {
  await sqs().send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrlOf(kind),
      ReceiptHandle: receiptHandle,
      VisibilityTimeout: Math.max(0, Math.min(43_200, Math.round(seconds))),
    }),
  );
}
