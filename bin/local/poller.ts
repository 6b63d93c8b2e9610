import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './lambda-context.js';

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
 * receive count, go to the dead-letter queue. For a FIFO queue it keeps one batch per message group
 * in flight (local-aws-sqs does not hold a group back by itself) and hands a group's messages over in order.
 */
export class SqsPoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** FIFO: groups with a batch in flight, and what arrived for them meanwhile, in order. */
  private readonly busyGroups = new Map<string, Message[]>();
  private handler: Promise<SqsHandler> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: PollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops receiving and waits for the batches in flight. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.inFlight.size >= this.options.maxConcurrency) {
          await Promise.race(this.inFlight);
          continue;
        }
        const { Messages } = await this.options.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.options.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.options.batchSize),
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 1,
            AttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        if (!Messages?.length) continue;
        if (this.options.fifo) this.dispatchFifo(Messages);
        else this.dispatch(Messages);
      } catch (error) {
        if (!this.running) return;
        this.options.log?.(`poller ${this.options.functionName}: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private dispatchFifo(messages: Message[]): void {
    const byGroup = new Map<string, Message[]>();
    for (const message of messages) {
      const group = message.Attributes?.MessageGroupId ?? '';
      const held = this.busyGroups.get(group);
      if (held) held.push(message);
      else byGroup.set(group, [...(byGroup.get(group) ?? []), message]);
    }
    for (const [group, batch] of byGroup) this.startGroup(group, batch);
  }

  private startGroup(group: string, batch: Message[]): void {
    this.busyGroups.set(group, []);
    this.track(
      this.handle(batch).then((allSucceeded) => {
        const held = this.busyGroups.get(group) ?? [];
        this.busyGroups.delete(group);
        // After a failure the held messages are left alone: they come back after their own
        // visibility timeout, behind the failed one, as SQS keeps a group's order.
        if (allSucceeded && held.length && this.running) this.startGroup(group, held.splice(0, this.options.batchSize));
      }),
    );
  }

  private dispatch(messages: Message[]): void {
    this.track(this.handle(messages).then(() => undefined));
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Runs one batch; true when every record succeeded. */
  private async handle(messages: Message[]): Promise<boolean> {
    const records = messages.map((message) => toRecord(message, this.options.queueArn, this.options.region ?? 'us-east-1'));
    let failed = new Set(records.map((record) => record.messageId));
    try {
      this.handler ??= this.options.loadHandler();
      const handler = await this.handler;
      const response = await handler({ Records: records }, lambdaContext(this.options.functionName, this.options.timeoutSeconds));
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      this.options.log?.(`worker ${this.options.functionName} threw: ${(error as Error).message}`);
    }
    const done = messages.filter((message) => !failed.has(message.MessageId!));
    if (done.length) {
      await this.options.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
    }
    return failed.size === 0;
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
