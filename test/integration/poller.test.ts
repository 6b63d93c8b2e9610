/**
 * SqsPoller against a real local-aws-sqs server (no SQS mocks): the records it hands over, deletion
 * after success, partial batch failures, redelivery after a throw, redrive to the dead-letter queue,
 * FIFO ordering and per-group concurrency, and stop().
 */
import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { SqsPoller, type PollerOptions, type SqsHandler } from '../../bin/local/poller.js';
import { startLocalSqs, type LocalQueue, type LocalSqs } from '../../bin/local/sqs.js';
import { QUEUE_SETTINGS, queueName } from '../../shared/contract/queues.js';

// ---------------------------------------------------------------------------------------------
// Helpers

let sqs: LocalSqs | undefined;
const pollers: SqsPoller[] = [];
let logs: string[] = [];

/**
 * The queues' visibility timeout in these tests. More than the 1 s long poll on purpose: local-aws-sqs
 * starts a message's visibility timeout when its long poll picks it up, not when it answers, and a
 * long poll that does not fill MaxNumberOfMessages answers only after WaitTimeSeconds (+40 ms); with
 * a 1 s timeout such messages would be visible again (and their FIFO receipt handles expired) by the
 * time the poller gets them.
 */
const VISIBILITY_SECONDS = 2;
/** Long enough for anything not deleted to come back. */
const PAST_VISIBILITY_MS = VISIBILITY_SECONDS * 1000 + 400;

async function setup(visibilityTimeoutSeconds = VISIBILITY_SECONDS): Promise<LocalSqs> {
  sqs = await startLocalSqs({ stage: 'pollertest', visibilityTimeoutSeconds });
  return sqs;
}

afterEach(async () => {
  await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
  await sqs?.close();
  sqs = undefined;
  logs = [];
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 25 ms until it holds, failing with `what` past the deadline. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

async function counts(queueUrl: string): Promise<{ messages: number; notVisible: number }> {
  const { Attributes } = await sqs!.client.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    messages: Number(Attributes?.ApproximateNumberOfMessages),
    notVisible: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

async function waitForEmpty(queueUrl: string, timeoutMs = 8000): Promise<void> {
  await waitFor(
    `queue ${queueUrl} to be empty`,
    async () => {
      const { messages, notVisible } = await counts(queueUrl);
      return messages === 0 && notVisible === 0;
    },
    timeoutMs,
  );
}

interface Batch {
  records: SQSRecord[];
  context: Context;
  started: number;
  ended?: number;
}

type Behaviour = (records: SQSRecord[], call: number) => Promise<SQSBatchResponse | void> | SQSBatchResponse | void;

/** A worker that records every SQS event it gets, then does what `behaviour` says. */
function recorder(behaviour: Behaviour = () => undefined) {
  const batches: Batch[] = [];
  const handler: SqsHandler = async (event, context) => {
    const batch: Batch = { records: event.Records, context, started: Date.now() };
    batches.push(batch);
    try {
      return await behaviour(event.Records, batches.length);
    } finally {
      batch.ended = Date.now();
    }
  };
  const records = () => batches.flatMap((batch) => batch.records);
  const deliveries = (body: string) => records().filter((record) => record.body === body);
  return { handler, batches, records, deliveries };
}

function startPoller(queue: LocalQueue, handler: SqsHandler, options: Partial<PollerOptions> = {}): SqsPoller {
  const poller = new SqsPoller({
    client: sqs!.client,
    queueUrl: queue.url,
    queueArn: queue.arn,
    fifo: queue.definition.fifo,
    loadHandler: async () => handler,
    functionName: 'poller-test',
    batchSize: 5,
    maxConcurrency: 2,
    timeoutSeconds: 30,
    region: 'us-east-1',
    waitTimeSeconds: 1,
    log: (line) => logs.push(line),
    ...options,
  });
  pollers.push(poller);
  poller.start();
  return poller;
}

async function sendFifo(queue: LocalQueue, group: string, body: string): Promise<string> {
  const { MessageId } = await sqs!.client.send(
    new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body, MessageGroupId: group, MessageDeduplicationId: body }),
  );
  return MessageId!;
}

/** Per message group, how many batches are in the handler right now and the most there ever were. */
function groupTracker() {
  const active = new Map<string, number>();
  const maxPerGroup = new Map<string, number>();
  let activeBatches = 0;
  let maxActiveBatches = 0;
  let maxActiveGroups = 0;
  return {
    enter(records: SQSRecord[]) {
      activeBatches++;
      maxActiveBatches = Math.max(maxActiveBatches, activeBatches);
      for (const group of new Set(records.map((record) => record.attributes.MessageGroupId!))) {
        const now = (active.get(group) ?? 0) + 1;
        active.set(group, now);
        maxPerGroup.set(group, Math.max(maxPerGroup.get(group) ?? 0, now));
      }
      maxActiveGroups = Math.max(maxActiveGroups, [...active.values()].filter((n) => n > 0).length);
    },
    leave(records: SQSRecord[]) {
      activeBatches--;
      for (const group of new Set(records.map((record) => record.attributes.MessageGroupId!))) {
        active.set(group, active.get(group)! - 1);
      }
    },
    get maxPerGroup() {
      return maxPerGroup;
    },
    get maxActiveBatches() {
      return maxActiveBatches;
    },
    get maxActiveGroups() {
      return maxActiveGroups;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Standard queue

describe('SqsPoller on a standard queue', () => {
  test('hands over real Lambda SQS records in batches of at most batchSize, and deletes them after success', async () => {
    const { client, queues } = await setup();
    const ctx = queues.ctx;
    const { handler, batches, records } = recorder();
    let loads = 0;
    startPoller(ctx, handler, {
      batchSize: 3,
      maxConcurrency: 2,
      functionName: 'ctx-worker',
      loadHandler: async () => {
        loads++;
        return handler;
      },
    });

    const sent = new Map<string, { messageId: string; kind: string }>();
    for (let i = 0; i < 7; i++) {
      const body = JSON.stringify({ task: i });
      const kind = `kind-${i}`;
      const { MessageId } = await client.send(
        new SendMessageCommand({
          QueueUrl: ctx.url,
          MessageBody: body,
          MessageAttributes: { kind: { DataType: 'String', StringValue: kind } },
        }),
      );
      sent.set(body, { messageId: MessageId!, kind });
    }

    await waitFor('7 records handled', () => records().length >= 7);
    await waitForEmpty(ctx.url);

    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const batch of batches) {
      expect(batch.records.length).toBeGreaterThan(0);
      expect(batch.records.length).toBeLessThanOrEqual(3);
      expect(batch.context.functionName).toBe('ctx-worker');
      expect(batch.context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    }
    expect(records().map((record) => record.body).sort()).toEqual([...sent.keys()].sort());
    for (const record of records()) {
      const message = sent.get(record.body)!;
      expect(record.messageId).toBe(message.messageId);
      expect(record.receiptHandle).toEqual(expect.any(String));
      expect(record.receiptHandle.length).toBeGreaterThan(0);
      expect(record.attributes.ApproximateReceiveCount).toBe('1');
      expect(record.attributes.SentTimestamp).toMatch(/^\d+$/);
      expect(record.attributes.ApproximateFirstReceiveTimestamp).toMatch(/^\d+$/);
      expect(record.attributes.MessageGroupId).toBeUndefined();
      expect(record.messageAttributes.kind).toEqual({
        dataType: 'String',
        stringValue: message.kind,
        stringListValues: [],
        binaryListValues: [],
      });
      expect(record.md5OfBody).toBe(md5(record.body));
      expect(record.eventSource).toBe('aws:sqs');
      expect(record.eventSourceARN).toBe(ctx.arn);
      expect(record.eventSourceARN).toMatch(/^arn:aws:sqs:us-east-1:\d+:pollertest-ctx$/);
      expect(record.awsRegion).toBe('us-east-1');
    }

    // Deleted, not merely in flight: nothing comes back once the visibility timeout is over.
    await sleep(PAST_VISIBILITY_MS);
    expect(records()).toHaveLength(7);
    expect(await counts(ctx.url)).toEqual({ messages: 0, notVisible: 0 });
    expect(loads).toBe(1);
  });

  test('partial batch failure: only the batchItemFailures record comes back, with ApproximateReceiveCount 2', async () => {
    const { client, queues } = await setup();
    const ctx = queues.ctx;
    const { handler, batches, deliveries } = recorder((records) => ({
      batchItemFailures: records
        .filter((record) => record.body === 'b' && record.attributes.ApproximateReceiveCount === '1')
        .map((record) => ({ itemIdentifier: record.messageId })),
    }));
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: ctx.url,
        Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );
    startPoller(ctx, handler, { batchSize: 3 });

    await waitFor('b to be delivered again', () => deliveries('b').length >= 2);
    await waitForEmpty(ctx.url); // counts in-flight messages too: nothing is left to come back

    expect(batches[0]!.records.map((record) => record.body).sort()).toEqual(['a', 'b', 'c']);
    expect(deliveries('a')).toHaveLength(1);
    expect(deliveries('c')).toHaveLength(1);
    expect(deliveries('b')).toHaveLength(2);
    const [first, second] = deliveries('b');
    expect(second!.messageId).toBe(first!.messageId);
    expect(first!.attributes.ApproximateReceiveCount).toBe('1');
    expect(second!.attributes.ApproximateReceiveCount).toBe('2');
    expect(second!.receiptHandle).not.toBe(first!.receiptHandle);
    expect(batches).toHaveLength(2);
    expect(batches[1]!.records.map((record) => record.body)).toEqual(['b']);
  });

  test('a handler that throws gets the whole batch again', async () => {
    const { client, queues } = await setup();
    const ctx = queues.ctx;
    const { handler, batches, records, deliveries } = recorder((_records, call) => {
      if (call === 1) throw new Error('boom');
    });
    await client.send(
      new SendMessageBatchCommand({
        QueueUrl: ctx.url,
        Entries: ['a', 'b', 'c'].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );
    startPoller(ctx, handler, { batchSize: 3, functionName: 'throwing-worker' });

    await waitFor('every message to be delivered twice', () => ['a', 'b', 'c'].every((body) => deliveries(body).length >= 2));
    await waitForEmpty(ctx.url);

    expect(batches[0]!.records.map((record) => record.body).sort()).toEqual(['a', 'b', 'c']);
    expect(records()).toHaveLength(6);
    for (const body of ['a', 'b', 'c']) {
      const [first, second] = deliveries(body);
      expect(second!.messageId).toBe(first!.messageId);
      expect(first!.attributes.ApproximateReceiveCount).toBe('1');
      expect(second!.attributes.ApproximateReceiveCount).toBe('2');
    }
    expect(logs.some((line) => line.includes('throwing-worker') && line.includes('boom'))).toBe(true);
  });

  test(`a message that always fails goes to the dead-letter queue after ${QUEUE_SETTINGS.maxReceiveCount} receives`, async () => {
    // A 1 s visibility timeout is safe here: with batchSize 1 each long poll answers as soon as it has the message.
    const { client, queues } = await setup(1);
    const ctx = queues.ctx;
    const { handler, deliveries } = recorder(() => {
      throw new Error('always fails');
    });
    const { MessageId } = await client.send(new SendMessageCommand({ QueueUrl: ctx.url, MessageBody: 'poison' }));
    startPoller(ctx, handler, { batchSize: 1, maxConcurrency: 1 });

    let dead: Message | undefined;
    await waitFor(
      'the message in the dead-letter queue',
      async () => {
        const { Messages } = await client.send(
          new ReceiveMessageCommand({ QueueUrl: ctx.deadLetterUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 1, AttributeNames: ['All'] }),
        );
        dead = Messages?.[0];
        return dead !== undefined;
      },
      15000,
    );

    expect(dead!.Body).toBe('poison');
    expect(dead!.MessageId).toBe(MessageId);
    expect(deliveries('poison').map((record) => record.attributes.ApproximateReceiveCount)).toEqual(
      Array.from({ length: QUEUE_SETTINGS.maxReceiveCount }, (_, i) => String(i + 1)),
    );
    expect(await counts(ctx.url)).toEqual({ messages: 0, notVisible: 0 });
  }, 25000);
});

// ---------------------------------------------------------------------------------------------
// FIFO queue

describe('SqsPoller on a FIFO queue', () => {
  test('hands a group its messages in send order, one batch per group at a time, different groups concurrently', async () => {
    const { queues } = await setup();
    const ask = queues.ask;
    const tracker = groupTracker();
    const { handler, batches, records } = recorder(async (batchRecords) => {
      tracker.enter(batchRecords);
      await sleep(100);
      tracker.leave(batchRecords);
    });
    const groups = ['session-a', 'session-b', 'session-c'];
    const perGroup = 5; // at most batchSize per group (see the held-messages test below)
    const sent = new Map<string, string[]>(groups.map((group) => [group, []]));
    const ids = new Map<string, string>();
    // Interleaved, so that one receive holds messages of several groups.
    for (let i = 0; i < perGroup; i++) {
      for (const group of groups) {
        const body = `${group}#${i}`;
        ids.set(body, await sendFifo(ask, group, body));
        sent.get(group)!.push(body);
      }
    }
    startPoller(ask, handler, { batchSize: 5, maxConcurrency: 3 });

    await waitFor('every message handled', () => records().length >= groups.length * perGroup);
    await waitForEmpty(ask.url);

    for (const group of groups) {
      const handled = records()
        .filter((record) => record.attributes.MessageGroupId === group)
        .map((record) => record.body);
      expect(handled).toEqual(sent.get(group));
      expect(tracker.maxPerGroup.get(group)).toBe(1);
    }
    expect(tracker.maxActiveGroups).toBeGreaterThanOrEqual(2);
    for (const batch of batches) expect(batch.records.length).toBeLessThanOrEqual(5);
    for (const record of records()) {
      expect(record.messageId).toBe(ids.get(record.body));
      expect(record.attributes.MessageDeduplicationId).toBe(record.body);
      expect(record.attributes.SequenceNumber).toMatch(/^\d+$/);
      expect(record.attributes.ApproximateReceiveCount).toBe('1');
      expect(record.eventSourceARN).toBe(ask.arn);
      expect(record.eventSourceARN).toMatch(/:pollertest-ask\.fifo$/);
    }
    // A group's batches never overlap in time.
    for (const group of groups) {
      const spans = batches.filter((batch) => batch.records.some((record) => record.attributes.MessageGroupId === group));
      for (let i = 1; i < spans.length; i++) expect(spans[i]!.started).toBeGreaterThanOrEqual(spans[i - 1]!.ended!);
    }
  });

  test('fills a batch with several groups’ messages, as SQS does when each group has fewer than the batch size', async () => {
    const { queues } = await setup();
    const ask = queues.ask;
    const { handler, batches, records } = recorder(async () => {
      await sleep(50);
    });
    const groups = ['s1', 's2', 's3', 's4', 's5'];
    for (const group of groups) {
      await sendFifo(ask, group, `${group}#0`);
      await sendFifo(ask, group, `${group}#1`);
    }
    startPoller(ask, handler, { batchSize: 10, maxConcurrency: 1 });
    await waitFor('every message handled', () => records().length >= 10);
    await waitForEmpty(ask.url);
    // One poller slot, ten messages of five sessions: they come in batches of several sessions, each in order.
    expect(Math.max(...batches.map((batch) => new Set(batch.records.map((record) => record.attributes.MessageGroupId)).size))).toBeGreaterThan(1);
    for (const group of groups) {
      expect(records().filter((record) => record.attributes.MessageGroupId === group).map((record) => record.body)).toEqual([`${group}#0`, `${group}#1`]);
    }
  });

  test('a failed record holds its group back and comes back first', async () => {
    const { queues } = await setup();
    const ask = queues.ask;
    const { handler, records } = recorder((batchRecords) => {
      // Fails g#1 on its first delivery, and, as a FIFO worker must, everything after it in the batch.
      const index = batchRecords.findIndex((record) => record.body === 'g#1' && record.attributes.ApproximateReceiveCount === '1');
      if (index < 0) return;
      return { batchItemFailures: batchRecords.slice(index).map((record) => ({ itemIdentifier: record.messageId })) };
    });
    for (let i = 0; i < 4; i++) await sendFifo(ask, 'g', `g#${i}`);
    startPoller(ask, handler, { batchSize: 5, maxConcurrency: 2 });

    await waitFor('g#3 handled after the retry', () => records().filter((record) => record.body === 'g#3').length >= 2);
    await waitForEmpty(ask.url);

    // First delivery: all four, of which g#1..g#3 failed. Then g#1..g#3 again, in order, before anything else.
    expect(records().map((record) => `${record.body}@${record.attributes.ApproximateReceiveCount}`)).toEqual([
      'g#0@1',
      'g#1@1',
      'g#2@1',
      'g#3@1',
      'g#1@2',
      'g#2@2',
      'g#3@2',
    ]);
  });

  test('a failed record that its worker made visible again before the batch ended is not waited for a second time', async () => {
    // The stack's long visibility: nothing comes back by itself during the test.
    const { queues } = await setup(60);
    const ask = queues.ask;
    // As the ask worker does for a job whose organization is at its cap: it sets the record's
    // visibility to a second and fails it, while the batch's other group keeps it running longer.
    const { handler, records } = recorder(async (batchRecords) => {
      const first = batchRecords.find((record) => record.body === 'a#0' && record.attributes.ApproximateReceiveCount === '1');
      if (!first) return;
      await sqs!.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: ask.url, ReceiptHandle: first.receiptHandle, VisibilityTimeout: 1 }));
      await sleep(2500);
      return { batchItemFailures: [{ itemIdentifier: first.messageId }] };
    });
    await sendFifo(ask, 'a', 'a#0');
    await sendFifo(ask, 'b', 'b#0');
    const started = Date.now();
    startPoller(ask, handler, { batchSize: 5, maxConcurrency: 2 });
    await waitFor('a#0 handled again', () => records().filter((record) => record.body === 'a#0').length >= 2, 15_000);
    // Back in about its second of visibility once the batch is over, not after the poller's hold runs out.
    expect(Date.now() - started).toBeLessThan(10_000);
    await waitForEmpty(ask.url);
  }, 30_000);

  test('messages received for a busy group are all handed over, in order, none left to the visibility timeout', async () => {
    // One group, batchSize 2: while the first batch runs, the poller receives (and holds) more than
    // one batch's worth of the group's messages. Each must be handled once, in send order.
    // (Fails against poller.ts as written: startGroup() replaces the held list with [], so m5/m6 are
    // dropped, come back only after the visibility timeout, after m7/m8, with ApproximateReceiveCount 2.)
    const { queues } = await setup();
    const ask = queues.ask;
    const { handler, records } = recorder(async () => {
      await sleep(100);
    });
    for (let i = 1; i <= 6; i++) await sendFifo(ask, 'g', `m${i}`);
    startPoller(ask, handler, { batchSize: 2, maxConcurrency: 2 });

    // Later messages of the same group, sent once the second batch is under way.
    await waitFor('m3 handled', () => records().some((record) => record.body === 'm3'));
    await sendFifo(ask, 'g', 'm7');
    await sendFifo(ask, 'g', 'm8');

    await waitFor('all 8 messages handled', () => new Set(records().map((record) => record.body)).size === 8);
    await waitForEmpty(ask.url);

    expect(records().map((record) => `${record.body}@${record.attributes.ApproximateReceiveCount}`)).toEqual(
      ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'].map((body) => `${body}@1`),
    );
  });

  test('keeps no more batches in flight than maxConcurrency, whatever the number of groups', async () => {
    // (Fails against poller.ts as written: dispatchFifo() starts one batch per group of a receive, without
    // looking at maxConcurrency, so four groups run four batches at once.)
    const { queues } = await setup(5);
    const ask = queues.ask;
    const tracker = groupTracker();
    const { handler, records } = recorder(async (batchRecords) => {
      tracker.enter(batchRecords);
      await sleep(300);
      tracker.leave(batchRecords);
    });
    for (const group of ['a', 'b', 'c', 'd']) await sendFifo(ask, group, `${group}#0`);
    startPoller(ask, handler, { batchSize: 5, maxConcurrency: 2 });

    await waitFor('all 4 messages handled', () => records().length >= 4);
    await waitForEmpty(ask.url);

    expect(tracker.maxActiveBatches).toBeLessThanOrEqual(2);
  });

  test('a failed DeleteMessageBatch neither wedges the message group nor escapes as an unhandled rejection', async () => {
    // DeleteMessageBatch fails for real here: the worker deletes the queue, so the poller's delete
    // gets QueueDoesNotExist; the queue is then created again under the same URL.
    // (Fails against poller.ts as written: handle() rejects, so startGroup()'s .then never runs, the group
    // stays in busyGroups for good, and the rejected promise is unhandled.)
    const { client, queues } = await setup();
    const ask = queues.ask;
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { handler, records } = recorder(async (batchRecords) => {
        if (batchRecords.some((record) => record.body === 'first')) await client.send(new DeleteQueueCommand({ QueueUrl: ask.url }));
      });
      startPoller(ask, handler, { batchSize: 1, maxConcurrency: 2 });
      await sendFifo(ask, 'g', 'first');
      await waitFor('first handled', () => records().length === 1);
      await sleep(300); // the poller's DeleteMessageBatch fails meanwhile
      await client.send(
        new CreateQueueCommand({
          QueueName: queueName('pollertest', ask.definition),
          Attributes: { FifoQueue: 'true', VisibilityTimeout: String(VISIBILITY_SECONDS) },
        }),
      );
      await sendFifo(ask, 'g', 'second');
      await sendFifo(ask, 'h', 'other');

      await waitFor('the other group handled', () => records().some((record) => record.body === 'other'));
      await waitFor('second handled', () => records().some((record) => record.body === 'second'), 3000).catch(() => undefined);
      const bodies = records().map((record) => record.body);
      expect(bodies).toContain('second');
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// stop()

describe('SqsPoller.stop', () => {
  test('resolves after the batches in flight are done, and receives nothing more', async () => {
    const { client, queues } = await setup();
    const ctx = queues.ctx;
    let finished = 0;
    const { handler, records } = recorder(async () => {
      await sleep(600);
      finished++;
    });
    const poller = startPoller(ctx, handler, { batchSize: 1 });
    await client.send(new SendMessageCommand({ QueueUrl: ctx.url, MessageBody: 'slow' }));
    await waitFor('the slow batch to start', () => records().length === 1);

    const stopping = Date.now();
    await poller.stop();
    expect(finished).toBe(1);
    expect(Date.now() - stopping).toBeGreaterThanOrEqual(300);
    // The batch succeeded, so its message was deleted before stop() resolved.
    expect(await counts(ctx.url)).toEqual({ messages: 0, notVisible: 0 });

    // Stopped: a new message stays in the queue.
    await client.send(new SendMessageCommand({ QueueUrl: ctx.url, MessageBody: 'after stop' }));
    await sleep(1200); // a running poller would have had it within a long poll
    expect(records()).toHaveLength(1);
    const { messages } = await counts(ctx.url);
    expect(messages).toBe(1);
  });

  test('resolves promptly when idle, without waiting out the long poll', async () => {
    const { queues } = await setup();
    const { handler, records } = recorder();
    const poller = startPoller(queues.ctx, handler, { waitTimeSeconds: 5 });
    await sleep(200); // inside the first long poll
    const stopping = Date.now();
    await poller.stop();
    // Before the 5-second long poll could have ended by itself: stop() aborted it.
    expect(Date.now() - stopping).toBeLessThan(4000);
    await poller.stop(); // twice is fine
    expect(records()).toHaveLength(0);
  });
});
