import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { publishMetrics, tracer } from '../observability.js';
import { logger } from '../logger.js';
import { Job } from '../schemas/jobs.js';
import { defaultDb } from '../store/db.js';
import { answerAsk, answerTask, failDeadJob, retryDelaySeconds, type Outcome } from './answer.js';
import { retryJobLater } from './queue.js';

/** Marks a record failed, to come back after the delay already set on it. */
class RetryLater extends Error {}

/** The job in a record, or undefined for a body that can never become a job (dropped, and logged). */
function jobOf(record: SQSRecord): Job | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = Job.safeParse(body);
  if (!parsed.success) {
    logger.error('dropped a record that is not a job', { message_id: record.messageId });
    return undefined;
  }
  return parsed.data;
}

/**
 * The SQS consumer of one job queue (Powertools batch: partial batch failures). A job that has to
 * be tried again comes back after its own backoff (set with ChangeMessageVisibility, not the
 * queue's long visibility timeout). On the FIFO ask queue a failure also holds back the rest of its
 * session's records in the batch, which come back with it, in order.
 */
export function jobWorker(kind: Job['kind']) {
  return observed(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    // A processor holds one batch's state: one per call, as the local poller runs batches side by side.
    const processor = kind === 'ask' ? new SqsFifoPartialProcessorAsync() : new BatchProcessor(EventType.SQS);
    const db = defaultDb();
    const groupDelays = new Map<string, number>();
    const retimed = new Set<string>();

    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const job = jobOf(record);
      if (!job || job.kind !== kind) return;
      const attempt = { claimer: `${context.awsRequestId}:${record.messageId}`, remainingMs: () => context.getRemainingTimeInMillis() };
      let outcome: Outcome;
      try {
        outcome = job.kind === 'ask' ? await answerAsk(db, job, attempt) : await answerTask(db, job, attempt);
      } catch (error) {
        // The store or the secret store failed: the job itself is fine, so it waits and comes back.
        logger.error('job failed unexpectedly', { error: error as Error, message_id: record.messageId });
        outcome = { finished: false, retryAfterSeconds: retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount)), reason: (error as Error).name };
      }
      if (outcome.finished) return;
      await retryJobLater(kind, record.receiptHandle, outcome.retryAfterSeconds);
      retimed.add(record.messageId);
      const group = record.attributes.MessageGroupId;
      if (group) groupDelays.set(group, outcome.retryAfterSeconds);
      throw new RetryLater(outcome.reason);
    };

    const response =
      processor instanceof SqsFifoPartialProcessorAsync
        ? await processPartialResponse(event, handleRecord, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false })
        : await processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false });
    // Records skipped behind a failure of their group come back together with it.
    for (const { itemIdentifier } of response.batchItemFailures) {
      if (retimed.has(itemIdentifier)) continue;
      const record = event.Records.find((candidate) => candidate.messageId === itemIdentifier);
      const delay = groupDelays.get(record?.attributes.MessageGroupId ?? '');
      if (record && delay !== undefined) await retryJobLater(kind, record.receiptHandle, delay).catch(() => undefined);
    }
    return response;
  });
}

/** A worker with the Powertools logger context, tracer and metrics. */
function observed(handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) {
  return middy(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(publishMetrics);
}

/** The consumer of a dead-letter queue: each job there failed for good, and its item says so. */
export function deadLetterWorker() {
  return observed(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processor = new BatchProcessor(EventType.SQS);
    const db = defaultDb();
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        const job = jobOf(record);
        if (job) await failDeadJob(db, job);
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
  });
}
