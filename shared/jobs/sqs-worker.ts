import { BatchProcessor, EventType, processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { QUEUE_SETTINGS, QUEUES, type QueueId } from '../contract/queues.js';
import { logger } from '../platform/observability.js';
import { observedWorker } from '../platform/observed-worker.js';
import { defaultDb } from '../store/client.js';
import { answerAsk } from './answer-ask.js';
import { answerTask } from './answer-task.js';
import { retryDelaySeconds, type Outcome } from './answering.js';
import { failDeadJob } from './dead-jobs.js';
import { requeueJob, retryJobLater } from './job-queue.js';
import { Job } from './job-schema.js';

/** Marks a record failed, to come back after the delay already set on it. */
class RetryLater extends Error {}

/** A record whose body is not a job of its queue: it fails, and after its receives it lands in the dead-letter queue. */
export class MalformedJob extends Error {
  override name = 'MalformedJob';
}

/**
 * The job in a record, checked against the job schema (the same zod schema the API enqueues with).
 * Powertools' batch `parser` option does this for `BatchProcessor`, but `SqsFifoPartialProcessorAsync`
 * (2.35) takes no parser, so both job queues check here, the same way.
 * @throws MalformedJob for a body that is not JSON, not a job, or a job of another queue.
 */
export function parseJobRecord(record: SQSRecord, queue?: QueueId): Job {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    throw new MalformedJob(`record ${record.messageId} is not JSON`);
  }
  const parsed = Job.safeParse(body);
  if (!parsed.success) throw new MalformedJob(`record ${record.messageId} is not a job`);
  if (queue && parsed.data.kind !== queue) throw new MalformedJob(`record ${record.messageId} is a ${parsed.data.kind} job on the ${queue} queue`);
  return parsed.data;
}

/**
 * The SQS consumer of one job queue (Powertools batch: partial batch failures). The records of a
 * batch are answered side by side: on the standard ctx queue all of them, on the FIFO ask queue one
 * session (message group) at a time each, in order. A job that has to be tried again comes back
 * after its own backoff (set with ChangeMessageVisibility, not the queue's long visibility
 * timeout). On the FIFO ask queue a failure also holds back the rest of its session's records in
 * the batch, which come back with it, in order. A malformed record fails on its own and comes back
 * at once, so that it reaches the dead-letter queue after its receives.
 */
export function jobWorker(queue: QueueId) {
  return observedWorker(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const db = defaultDb();
    const groupDelays = new Map<string, number>();
    const retimed = new Set<string>();

    const comeBack = async (record: SQSRecord, seconds: number): Promise<void> => {
      await retryJobLater(queue, record.receiptHandle, seconds);
      retimed.add(record.messageId);
      const group = record.attributes.MessageGroupId;
      if (group) groupDelays.set(group, seconds);
    };

    // A record that is not a job of this queue fails alone, before the batch is processed: it has no
    // place in its group's order, so it holds back none of the session's real jobs behind it.
    const jobs = new Map<string, Job>();
    const malformed: SQSRecord[] = [];
    for (const record of event.Records) {
      try {
        jobs.set(record.messageId, parseJobRecord(record, queue));
      } catch (error) {
        logger.error('a record is not a job of this queue', { message_id: record.messageId, error: (error as Error).message });
        malformed.push(record);
      }
    }
    for (const record of malformed) await retryJobLater(queue, record.receiptHandle, 0).catch(() => undefined);
    const wellFormed = { ...event, Records: event.Records.filter((record) => jobs.has(record.messageId)) };

    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const job = jobs.get(record.messageId)!;
      const attempt = { claimer: `${context.awsRequestId}:${record.messageId}`, remainingMs: () => context.getRemainingTimeInMillis() };
      let outcome: Outcome;
      try {
        outcome = job.kind === 'ask' ? await answerAsk(db, job, attempt) : await answerTask(db, job, attempt);
      } catch (error) {
        // The store or the secret store failed: the job itself is fine, so it waits and comes back.
        // The error's name only: its message can quote stored or model text, which never goes to the log.
        logger.error('job failed unexpectedly', { error: (error as Error).name, message_id: record.messageId });
        outcome = { finished: false, retryAfterSeconds: retryDelaySeconds(Number(record.attributes.ApproximateReceiveCount)), reason: (error as Error).name };
      }
      if (outcome.finished) return;
      // Not tried (no time left here, or its organization has all its places in flight): waiting
      // uses up a receive, so a job that would run out of them (or has no time to wait) goes back
      // as a new message instead, its receives untouched, and this one is done.
      const receives = Number(record.attributes.ApproximateReceiveCount ?? 1);
      if (outcome.untried && (outcome.retryAfterSeconds === 0 || receives >= QUEUE_SETTINGS.maxReceiveCount - 1)) {
        try {
          await requeueJob(job, record.messageId, outcome.retryAfterSeconds);
          return;
        } catch (error) {
          logger.warn('could not requeue a job that was not tried', { message_id: record.messageId, error: (error as Error).name });
        }
      }
      await comeBack(record, outcome.retryAfterSeconds);
      throw new RetryLater(outcome.reason);
    };

    const response: SQSBatchResponse = !wellFormed.Records.length
      ? { batchItemFailures: [] }
      : queue === 'ask'
        ? await inGroups(wellFormed.Records, (records) =>
            // Powertools' FIFO processor handles one group's records in order and, after a failure,
            // fails the rest of that group; the groups (sessions) of a batch run side by side, so
            // one session's slow model call holds back no other session.
            processPartialResponse({ Records: records }, handleRecord, new SqsFifoPartialProcessorAsync(), {
              context,
              skipGroupOnError: true,
              throwOnFullBatchFailure: false,
            }),
          )
        : await processPartialResponse(wellFormed, handleRecord, new BatchProcessor(EventType.SQS), { context, throwOnFullBatchFailure: false });
    // Records skipped behind a failure of their group come back together with it.
    for (const { itemIdentifier } of response.batchItemFailures) {
      if (retimed.has(itemIdentifier)) continue;
      const record = event.Records.find((candidate) => candidate.messageId === itemIdentifier);
      const delay = groupDelays.get(record?.attributes.MessageGroupId ?? '');
      if (record && delay !== undefined) await retryJobLater(queue, record.receiptHandle, delay).catch(() => undefined);
    }
    return { batchItemFailures: [...malformed.map((record) => ({ itemIdentifier: record.messageId })), ...response.batchItemFailures] };
  });
}

/**
 * Runs a FIFO batch's message groups side by side, each group's records handed to `run` together
 * (in their order), and joins what each reports failed.
 */
async function inGroups(records: SQSRecord[], run: (records: SQSRecord[]) => Promise<SQSBatchResponse>): Promise<SQSBatchResponse> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const responses = await Promise.all([...groups.values()].map(run));
  return { batchItemFailures: responses.flatMap((response) => response.batchItemFailures) };
}

/** The job queue whose dead-letter queue a record came from, by the queue's name (`<stage>-ask-dlq.fifo`). */
function deadLetterQueueOf(record: SQSRecord): QueueId | undefined {
  const name = record.eventSourceARN.split(':').pop() ?? '';
  return Object.values(QUEUES).find((queue) => name.endsWith(`-${queue.id}-dlq${queue.fifo ? '.fifo' : ''}`))?.id;
}

/**
 * The consumer of a dead-letter queue: each job there failed for good, and its item says so. A
 * malformed record is logged as an error and dropped: it has nowhere further to go.
 */
export function deadLetterWorker() {
  return observedWorker(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const processor = new BatchProcessor(EventType.SQS);
    const db = defaultDb();
    return processPartialResponse(
      event,
      async (record: SQSRecord) => {
        let job: Job;
        try {
          job = parseJobRecord(record, deadLetterQueueOf(record));
        } catch (error) {
          logger.error('dropped a dead letter that is not a job', { message_id: record.messageId, error: (error as Error).message });
          return;
        }
        await failDeadJob(db, job);
      },
      processor,
      { context, throwOnFullBatchFailure: false },
    );
  });
}
