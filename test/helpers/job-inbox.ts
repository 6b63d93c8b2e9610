import { ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { toRecord } from '../../bin/local/poller.js';

/** A queue to receive from: its url and arn (as in `stack.sqs.queues.ask`, or its dead-letter pair). */
export interface QueueRef {
  url: string;
  arn: string;
}

/** The id a job body names (`message_id` or `ctx_id`), or undefined for a body that is not a job. */
export function jobIdOf(body: string | undefined): string | undefined {
  try {
    const job = JSON.parse(body ?? '') as { message_id?: unknown; ctx_id?: unknown };
    const id = job?.message_id ?? job?.ctx_id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Receives jobs from local queues that nobody polls, for tests that hand records to a worker
 * themselves. Messages received while looking for another are kept (they stay in flight for the
 * queue's visibility timeout, so their receipt handles stay valid) and handed out when asked for.
 */
export class JobInbox {
  private readonly kept = new Map<string, Message[]>();

  constructor(private readonly client: SQSClient) {}

  /**
   * The first message of `queue` that `matches`, as a Lambda record; polls until `timeoutMs`.
   * Throws when none came.
   */
  async take(queue: QueueRef, matches: (message: Message) => boolean, timeoutMs = 5_000): Promise<{ message: Message; record: SQSRecord }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const kept = this.kept.get(queue.url) ?? [];
      const index = kept.findIndex(matches);
      if (index >= 0) {
        const [message] = kept.splice(index, 1);
        return { message: message!, record: toRecord(message!, queue.arn, 'us-east-1') };
      }
      if (Date.now() > deadline) throw new Error(`no matching message arrived on ${queue.url} within ${timeoutMs} ms`);
      const { Messages } = await this.client.send(
        new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, AttributeNames: ['All'] }),
      );
      if (Messages?.length) this.kept.set(queue.url, [...kept, ...Messages]);
      else await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The job naming `id` (a message_id or ctx_id) on `queue`. */
  job(queue: QueueRef, id: string, timeoutMs?: number) {
    return this.take(queue, (message) => jobIdOf(message.Body) === id, timeoutMs);
  }
}
