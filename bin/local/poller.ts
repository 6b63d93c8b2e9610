import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { invokeInOwnScope, lambdaContext } from './lambda-context.js';

const sequenceOf = (message: Message): bigint => BigInt(message.Attributes?.SequenceNumber ?? 0);

/**
 * Puts a group's messages in their order again once failed ones are back (by sequence number, as SQS
 * keeps them; local-aws-sqs hands returning ones back in any order).
 */
const inSequence = (messages: Message[]): Message[] =>
  messages.sort((a, b) => (sequenceOf(a) < sequenceOf(b) ? -1 : sequenceOf(a) > sequenceOf(b) ? 1 : 0));

/** The longest a FIFO group waits here for its failed messages to come back before its later ones go on. */
const HOLD_MAX_MS = 60_000;

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  fifo: boolean;
  /** Loads the worker: called once, on the first batch, as Lambda loads a module on a cold start. */
  loadHandler: () => Promise<SqsHandler>;
  functionName: string;
  batchSize: number;
  /** Batches handled at once (the event source mapping's maximum concurrency). */
  maxConcurrency: number;
  timeoutSeconds: number;
  region?: string;
  /** Long-poll wait; short, so that stop() returns soon. */
  waitTimeSeconds?: number;
  log?: (line: string) => void;
}

/**
 * Feeds a worker from a queue the way a Lambda event source mapping does: batches of real SQS
 * records, deletes what succeeded, and leaves the `batchItemFailures` (or the whole batch, if the
 * handler throws) to come back after their visibility timeout and, past the redrive policy's
 * receive count, go to the dead-letter queue. For a FIFO queue it fills batches as SQS does, with
 * several message groups' messages, each group's in order, and keeps a group out of other batches
 * while one holding it is in flight (local-aws-sqs does not hold a group back by itself).
 */
export class SqsPoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** FIFO: received messages not yet handed over, per group, in order. */
  private readonly pending = new Map<string, Message[]>();
  /** FIFO: groups with a batch in flight. */
  private readonly busyGroups = new Set<string>();
  /** FIFO: groups with pending messages and no batch in flight, in arrival order. */
  private readonly readyGroups: string[] = [];
  /**
   * FIFO: groups held back behind messages that failed, until those come back (after the delay the
   * worker set on them) or, if they never do (gone to the dead-letter queue), until `until`.
   */
  private readonly heldGroups = new Map<string, { failed: Set<string>; until: number }>();
  private handler: Promise<SqsHandler> | undefined;
  private abort = new AbortController();

  constructor(private readonly options: PollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  /** Stops receiving and waits for the batches in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private get pendingCount(): number {
    let count = 0;
    for (const messages of this.pending.values()) count += messages.length;
    return count;
  }

  private async run(): Promise<void> {
    const { batchSize, maxConcurrency } = this.options;
    while (this.running) {
      try {
        // Like the event source mapping, take no more than the functions can work on.
        if (this.inFlight.size >= maxConcurrency || this.pendingCount >= batchSize * maxConcurrency) {
          await Promise.race(this.inFlight);
          continue;
        }
        const Messages = await this.receive();
        if (this.options.fifo) this.startReadyGroups();
        if (!Messages?.length) continue;
        if (this.options.fifo) this.queueFifo(Messages);
        else this.track(this.handle(Messages).then(() => undefined));
      } catch (error) {
        if (!this.running) return;
        this.options.log?.(`poller ${this.options.functionName}: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /**
   * Long-polls for one message, then takes what else is waiting, up to the batch size. local-aws-sqs
   * answers a receive only when it has the full count or its wait (plus 40 ms) is over, so the
   * second receive asks for exactly what the queue says it holds; with nothing more, it is skipped.
   */
  private async receive(): Promise<Message[]> {
    const { batchSize, client, queueUrl } = this.options;
    const receive = async (max: number, wait: number) =>
      (
        await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: max,
            WaitTimeSeconds: wait,
            AttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        )
      ).Messages ?? [];
    const first = await receive(1, this.options.waitTimeSeconds ?? 1);
    if (!first.length || batchSize === 1) return first;
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      { abortSignal: this.abort.signal },
    );
    // local-aws-sqs counts messages in flight in ApproximateNumberOfMessages too: asking for them
    // would make the receive wait out its 40 ms for messages that are not there.
    const visible = Number(Attributes?.ApproximateNumberOfMessages ?? 0) - Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    const waiting = Math.min(Math.min(10, batchSize) - 1, Math.max(0, visible));
    return waiting > 0 ? [...first, ...(await receive(waiting, 0))] : first;
  }

  private queueFifo(messages: Message[]): void {
    for (const message of messages) {
      const group = message.Attributes?.MessageGroupId ?? '';
      const queued = this.pending.get(group) ?? [];
      const held = this.heldGroups.get(group);
      queued.push(message);
      if (held?.failed.delete(message.MessageId!)) {
        inSequence(queued);
        if (!held.failed.size) this.heldGroups.delete(group);
      }
      this.pending.set(group, queued);
      this.markReady(group);
    }
    this.startReadyGroups();
  }

  private markReady(group: string): void {
    if (this.pending.has(group) && !this.busyGroups.has(group) && !this.heldGroups.has(group) && !this.readyGroups.includes(group)) {
      this.readyGroups.push(group);
    }
  }

  /** Lets go of held groups whose failed messages never came back (they reached the dead-letter queue). */
  private releaseStaleHolds(): void {
    for (const [group, held] of this.heldGroups) {
      if (held.until > Date.now()) continue;
      this.heldGroups.delete(group);
      this.markReady(group);
    }
  }

  /**
   * Starts batches while there is room, as SQS fills a FIFO receive: a ready group's messages in
   * order, then the next ready group's, up to the batch size, so one batch may hold several groups
   * (sessions). A group in a batch gets no other batch until that one is done, as SQS holds a group
   * back while its messages are in flight.
   */
  private startReadyGroups(): void {
    this.releaseStaleHolds();
    while (this.running && this.inFlight.size < this.options.maxConcurrency && this.readyGroups.length) {
      const batch: Message[] = [];
      const groups: string[] = [];
      while (batch.length < this.options.batchSize && this.readyGroups.length) {
        const group = this.readyGroups.shift()!;
        const queued = this.pending.get(group) ?? [];
        const taken = queued.splice(0, this.options.batchSize - batch.length);
        if (!queued.length) this.pending.delete(group);
        if (!taken.length) continue;
        batch.push(...taken);
        groups.push(group);
        this.busyGroups.add(group);
      }
      if (!batch.length) continue;
      this.track(
        this.handle(batch).then((failed) => {
          for (const group of groups) {
            this.busyGroups.delete(group);
            // A failed group's later messages wait behind its failed ones, as SQS keeps a group's
            // order: held here until those come back. One its worker made visible again while the
            // batch ran may be back already (received meanwhile): not waited for a second time.
            const queued = this.pending.get(group) ?? [];
            const back = new Set(queued.map((message) => message.MessageId));
            const awaited = batch.filter(
              (message) => failed.has(message.MessageId!) && (message.Attributes?.MessageGroupId ?? '') === group && !back.has(message.MessageId),
            );
            inSequence(queued);
            if (awaited.length) this.heldGroups.set(group, { failed: new Set(awaited.map((message) => message.MessageId!)), until: Date.now() + HOLD_MAX_MS });
            else this.markReady(group);
          }
          this.startReadyGroups();
        }),
      );
    }
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private loadHandler(): Promise<SqsHandler> {
    // A module that failed to load is tried again on the next batch, as a new Lambda instance would.
    this.handler ??= this.options.loadHandler().catch((error: unknown) => {
      this.handler = undefined;
      throw error;
    });
    return this.handler;
  }

  /** Runs one batch and deletes what succeeded; answers the ids of the messages that failed. Never rejects. */
  private async handle(messages: Message[]): Promise<Set<string>> {
    const { functionName, log } = this.options;
    const records = messages.map((message) => toRecord(message, this.options.queueArn, this.options.region ?? 'us-east-1'));
    const ids = new Set(records.map((record) => record.messageId));
    let failed = ids;
    try {
      const handler = await this.loadHandler();
      const context = lambdaContext(functionName, this.options.timeoutSeconds);
      const response = await invokeInOwnScope(context, () => handler({ Records: records }, context));
      const reported = (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
      // As Lambda does: a failure that names no record of the batch fails the whole batch.
      failed = reported.every((id) => ids.has(id)) ? new Set(reported) : ids;
    } catch (error) {
      log?.(`worker ${functionName} threw: ${(error as Error).message}`);
    }
    const done = messages.filter((message) => !failed.has(message.MessageId!));
    if (!done.length) return failed;
    try {
      const result = await this.options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
      for (const failure of result.Failed ?? []) log?.(`poller ${functionName}: could not delete a message: ${failure.Message}`);
    } catch (error) {
      // The messages come back after their visibility timeout; the workers are idempotent.
      log?.(`poller ${functionName}: could not delete handled messages: ${(error as Error).message}`);
    }
    return failed;
  }
}

/** An SQS message as Lambda hands it over in an SQS event. */
export function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.SequenceNumber ? { SequenceNumber: attributes.SequenceNumber } : {}),
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
      ...(attributes.MessageDeduplicationId ? { MessageDeduplicationId: attributes.MessageDeduplicationId } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          stringValue: value.StringValue,
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}
