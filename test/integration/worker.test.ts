import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { lambdaContext } from '../../bin/local/lambda-context.js';
import type { Db } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { QUEUE_SETTINGS } from '../../shared/contract/queues.js';
import { JobInbox, type QueueRef } from '../helpers/job-inbox.js';
import { client, startTestApi, type TestApi } from '../helpers/local-api.js';
import { estimateTokens, startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';

/**
 * The queue workers, one record at a time: the API puts real jobs on the local SQS emulator, nobody
 * polls it (`workers: false`), and each test receives its job itself and hands it to the worker
 * module as Lambda would, so it can deliver it twice, at once, out of order, late, or dead.
 */
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

let api: TestApi;
let stub: StubOpenAI;
let db: Db;
let inbox: JobInbox;
let askWorker: Handler;
let ctxWorker: Handler;
let deadLetterWorker: Handler;
let newJobWorker: (kind: 'ask' | 'ctx') => Handler;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  delete process.env.OPENAI_API_KEY;
  delete process.env.OPENAI_BASE_URL;
  delete process.env.AI_SYSTEM_PROMPT;
  delete process.env.ORG_SECRET_PREFIX;
  Object.assign(process.env, {
    org_work_OPENAI_API_KEY: 'sk-work',
    org_work_OPENAI_BASE_URL: stub.url,
    JOB_RETRY_BASE_SECONDS: '1',
  });
  api = await startTestApi({ workers: false });
  db = api.stack.db;
  inbox = new JobInbox(api.stack.sqs.client);
  askWorker = (await import('../../functions/workers/ask.js')).handler;
  ctxWorker = (await import('../../functions/workers/task.js')).handler;
  deadLetterWorker = (await import('../../functions/workers/dead-letters.js')).handler;
  newJobWorker = (await import('../../shared/jobs/sqs-worker.js')).jobWorker;
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});
beforeEach(() => stub.reset());

const ORG = 'org_work';
const as = async (org = ORG, user = 'user_worker') => client(api.url, await api.token({ org, user }));
type Client = Awaited<ReturnType<typeof as>>;

const askQueue = (): QueueRef => api.stack.sqs.queues.ask;
const ctxQueue = (): QueueRef => api.stack.sqs.queues.ctx;
const deadLetters = (queue: 'ask' | 'ctx'): QueueRef => ({
  url: api.stack.sqs.queues[queue].deadLetterUrl,
  arn: api.stack.sqs.queues[queue].deadLetterArn,
});

const handleAsk = (record: SQSRecord, seconds = 120) => askWorker({ Records: [record] }, lambdaContext('AskWorker', seconds));
const handleTask = (record: SQSRecord) => ctxWorker({ Records: [record] }, lambdaContext('CtxWorker', 120));
const failures = (response: SQSBatchResponse | void) => (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);

async function newSession(c: Client): Promise<string> {
  const created = await c.post('/openai/sessions', { name: 'worker test' });
  expect(created.status).toBe(201);
  return created.body.session_id;
}

async function ask(c: Client, sessionId: string, message: string): Promise<{ message_id: string; user_message_id: string }> {
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message });
  expect(asked).toMatchObject({ status: 202, body: { status: 'PENDING' } });
  return asked.body;
}

async function startTask(c: Client, sessionId: string, task: string): Promise<string> {
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task });
  expect(started).toMatchObject({ status: 202, body: { status: 'pending' } });
  return started.body.ctx_id;
}

/** A session with one ask, and that ask's job as received from the ask queue. */
async function askWithJob(message: string, c?: Client) {
  const caller = c ?? (await as());
  const sessionId = await newSession(caller);
  const asked = await ask(caller, sessionId, message);
  const { record } = await inbox.job(askQueue(), asked.message_id);
  return { c: caller, sessionId, messageId: asked.message_id, userMessageId: asked.user_message_id, record };
}

async function message(c: Client, sessionId: string, messageId: string): Promise<any> {
  const answer = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Polls until the answer is PROCESSING with some text, while its worker runs. */
async function processingWithText(c: Client, sessionId: string, messageId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const now = await message(c, sessionId, messageId);
    if (now.status === 'PROCESSING' && now.content) return now.content;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the answer never showed text while PROCESSING');
}

async function task(c: Client, sessionId: string, ctxId: string): Promise<any> {
  const answer = await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}`);
  expect(answer.status).toBe(200);
  return answer.body;
}

/** The stored item itself, with the worker's fields the API does not show (lease, attempts, last_error). */
async function storedMessage(org: string, sessionId: string, messageId: string): Promise<Record<string, any>> {
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.message(org, sessionId, messageId), ConsistentRead: true }));
  return Item!;
}

/** Makes an assistant message look claimed by another worker, whose lease ends at `leaseUntil`. */
async function claimFor(sessionId: string, messageId: string, leaseUntil: number, fields: Record<string, unknown> = {}): Promise<void> {
  const extra = Object.entries(fields);
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: keys.message(ORG, sessionId, messageId),
      UpdateExpression: `SET #status = :processing, lease_until = :lease, claimed_by = :claimer, attempts = :attempts${extra
        .map((_, index) => `, #x${index} = :x${index}`)
        .join('')}`,
      ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(extra.map(([name], index) => [`#x${index}`, name])) },
      ExpressionAttributeValues: {
        ':processing': 'PROCESSING',
        ':lease': leaseUntil,
        ':claimer': 'dead-worker',
        ':attempts': 1,
        ...Object.fromEntries(extra.map(([, value], index) => [`:x${index}`, value])),
      },
    }),
  );
}

const defaultAnswer = (question: string, messages: number) => `Answer to "${question}" (${messages} messages)`;

describe('accepting an ask', () => {
  const partitionItems = async (sessionId: string) => {
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Items = [] } = await db.doc.send(
      new QueryCommand({ TableName: db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.sessionPartition(ORG, sessionId) }, ConsistentRead: true }),
    );
    return Items.map((item) => item.sk as string).sort();
  };

  it('costs three DynamoDB calls: the rate limit, the question and its answer, the admission into the session', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    await ask(c, sessionId, 'warm up'); // the rate limiter's window, read once per process
    const counts = api.stack.dynamo.requestCounts;
    const before = new Map(counts);
    await ask(c, sessionId, 'counted');
    const used = Object.fromEntries([...counts].map(([name, count]) => [name, count - (before.get(name) ?? 0)]).filter(([, count]) => count));
    expect(used).toEqual({ UpdateItem: 2, BatchWriteItem: 1 });
  });

  it('refuses an ask into a session that is not the caller’s to write, or not open, and keeps nothing of it', async () => {
    const owner = await as(ORG, 'user_owner');
    const sessionId = await newSession(owner);
    await ask(owner, sessionId, 'mine');
    const stored = await partitionItems(sessionId);
    const admin = client(api.url, await api.token({ org: ORG, user: 'user_admin', role: 'admin' }));
    expect(await (await as(ORG, 'user_other')).post(`/openai/sessions/${sessionId}/ask`, { message: 'x' })).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect(await admin.post(`/openai/sessions/${sessionId}/ask`, { message: 'x' })).toMatchObject({ status: 403, body: { code: 'not_session_owner' } });
    expect(await (await as('org_elsewhere', 'user_owner')).post(`/openai/sessions/${sessionId}/ask`, { message: 'x' })).toMatchObject({ status: 404 });
    expect(await owner.post(`/openai/sessions/01JAAAAAAAAAAAAAAAAAAAAAAA/ask`, { message: 'x' })).toMatchObject({ status: 404 });
    expect(await partitionItems('01JAAAAAAAAAAAAAAAAAAAAAAA')).toEqual([]);
    await owner.patch(`/openai/sessions/${sessionId}`, { end: true });
    expect(await owner.post(`/openai/sessions/${sessionId}/ask`, { message: 'x' })).toMatchObject({ status: 409, body: { code: 'session_ended' } });
    expect(await partitionItems(sessionId)).toEqual(stored);
    expect((await owner.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(2);
  });
});

describe('ask worker', () => {
  it('answers one record: the message is COMPLETED with the reply, model, usage and timings', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('What is 2+2?');
    expect(JSON.parse(record.body)).toEqual({ kind: 'ask', org_id: ORG, session_id: sessionId, message_id: messageId, enqueued_at: expect.any(String) });
    expect(record.attributes.MessageGroupId).toBe(sessionId);

    const response = await handleAsk(record);
    expect(failures(response)).toEqual([]);

    const reply = defaultAnswer('What is 2+2?', 1);
    const answered = await message(c, sessionId, messageId);
    expect(answered).toEqual({
      message_id: messageId,
      session_id: sessionId,
      role: 'assistant',
      content: reply,
      status: 'COMPLETED',
      created_at: expect.any(String),
      completed_at: expect.any(String),
      model: 'gpt-4o',
      usage: {
        prompt_tokens: estimateTokens('What is 2+2?'),
        completion_tokens: estimateTokens(reply),
        total_tokens: estimateTokens('What is 2+2?') + estimateTokens(reply),
      },
      latency_ms: expect.any(Number),
      // Where the latency went: waiting for a worker, and the model.
      timings: { queue_ms: expect.any(Number), model_ms: expect.any(Number) },
    });
    expect(Date.parse(answered.completed_at)).toBeGreaterThanOrEqual(Date.parse(answered.created_at));
    expect(answered.latency_ms).toBe(Date.parse(answered.completed_at) - Date.parse(answered.created_at));
    expect(answered.timings.queue_ms + answered.timings.model_ms).toBeLessThanOrEqual(answered.latency_ms);

    expect(stub.completions()).toHaveLength(1);
    expect(stub.requests).toHaveLength(1);
    expect(stub.completions()[0]).toMatchObject({
      apiKey: 'sk-work',
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'What is 2+2?' }] },
    });
    // The claim is gone from a settled item.
    const stored = await storedMessage(ORG, sessionId, messageId);
    expect(stored).toMatchObject({ attempts: 1, timings: { queue_ms: expect.any(Number), model_ms: expect.any(Number) } });
    expect(stored.lease_until).toBeUndefined();
    expect(stored.claimed_by).toBeUndefined();
  });

  it('answers a record delivered twice, one after the other, once', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Twice?');
    expect(failures(await handleAsk(record))).toEqual([]);
    const first = await message(c, sessionId, messageId);
    expect(failures(await handleAsk(record))).toEqual([]);

    expect(stub.completions()).toHaveLength(1);
    expect(await message(c, sessionId, messageId)).toEqual(first);
    expect(first).toMatchObject({ status: 'COMPLETED', content: defaultAnswer('Twice?', 1) });
  });

  it('answers a record delivered twice at once (two Lambda instances) once; the loser comes back later', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('At once?');
    // The model takes a moment, so the loser looks while the winner holds the claim.
    stub.latency(300);
    const [one, two] = [newJobWorker('ask'), newJobWorker('ask')];
    const responses = await Promise.all([
      one({ Records: [record] }, lambdaContext('AskWorker', 120)),
      two({ Records: [record] }, lambdaContext('AskWorker', 120)),
    ]);

    expect(stub.completions()).toHaveLength(1);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED', content: defaultAnswer('At once?', 1) });
    // One succeeded; the other lost the claim and reports its record, to come back (and find it answered).
    expect(responses.map(failures).sort((a, b) => a.length - b.length)).toEqual([[], [record.messageId]]);
    expect((await storedMessage(ORG, sessionId, messageId)).attempts).toBe(1);
  });

  it('answers a record handed to the same worker module twice at once once', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Same module at once?');
    stub.latency(300);
    const responses = await Promise.all([handleAsk(record), handleAsk(record)]);

    expect(stub.completions()).toHaveLength(1);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED', content: defaultAnswer('Same module at once?', 1) });
    // At least the loser reports the record (it comes back, and then finds the turn answered).
    expect(responses.map(failures).flat()).toContain(record.messageId);
  });

  // The local stack's poller hands up to 10 batches at once to the one loaded worker module
  // (WORKERS' maxConcurrency), as Lambda never does within one instance. Each batch's results must
  // stay its own.
  it('does not report another concurrent batch\'s failure from a batch that succeeded', async () => {
    const slow = await askWithJob('Slow but fine');
    const busy = await askWithJob('Held by a live lease');
    await claimFor(busy.sessionId, busy.messageId, Date.now() + 60_000);
    stub.latency(300);

    const [slowResponse, busyResponse] = await Promise.all([handleAsk(slow.record), handleAsk(busy.record)]);

    expect(await message(slow.c, slow.sessionId, slow.messageId)).toMatchObject({ status: 'COMPLETED' });
    expect(failures(busyResponse)).toEqual([busy.record.messageId]);
    // A failure naming no record of the batch fails the whole batch (Lambda, and the local poller).
    expect(failures(slowResponse)).toEqual([]);
  });

  it('does not lose a failure when another batch starts while this one runs', async () => {
    const busy = await askWithJob('Held by a live lease');
    await claimFor(busy.sessionId, busy.messageId, Date.now() + 60_000);
    const slow = await askWithJob('Slow but fine');
    const other = await askWithJob('Another batch');
    stub.latency(400);

    // Batch one: the busy record fails at once, then the slow one takes 400 ms; batch two starts meanwhile.
    const first = askWorker({ Records: [busy.record, slow.record] }, lambdaContext('AskWorker', 120));
    await new Promise((resolve) => setTimeout(resolve, 150));
    const second = handleAsk(other.record);
    const [firstResponse, secondResponse] = await Promise.all([first, second]);

    expect(await message(slow.c, slow.sessionId, slow.messageId)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(other.c, other.sessionId, other.messageId)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(busy.c, busy.sessionId, busy.messageId)).toMatchObject({ status: 'PROCESSING' });
    expect(failures(secondResponse)).toEqual([]);
    // Reported as succeeded, the busy job would be deleted by the poller and its ask never answered.
    expect(failures(firstResponse)).toEqual([busy.record.messageId]);
  });

  it('takes over a claim whose lease ran out (its worker died), and leaves a live claim alone', async () => {
    const dead = await askWithJob('After a crash?');
    await claimFor(dead.sessionId, dead.messageId, Date.now() - 1000);
    expect(await message(dead.c, dead.sessionId, dead.messageId)).toMatchObject({ status: 'PROCESSING' });

    expect(failures(await handleAsk(dead.record))).toEqual([]);
    expect(await message(dead.c, dead.sessionId, dead.messageId)).toMatchObject({
      status: 'COMPLETED',
      content: defaultAnswer('After a crash?', 1),
    });
    expect(stub.completions()).toHaveLength(1);
    const taken = await storedMessage(ORG, dead.sessionId, dead.messageId);
    expect(taken.attempts).toBe(2);
    expect(taken.claimed_by).toBeUndefined();

    stub.reset();
    const live = await askWithJob('While another works?');
    const leaseUntil = Date.now() + 60_000;
    await claimFor(live.sessionId, live.messageId, leaseUntil);
    expect(failures(await handleAsk(live.record))).toEqual([live.record.messageId]);
    expect(stub.requests).toHaveLength(0);
    expect(await message(live.c, live.sessionId, live.messageId)).toMatchObject({ status: 'PROCESSING', content: '' });
    expect(await storedMessage(ORG, live.sessionId, live.messageId)).toMatchObject({
      claimed_by: 'dead-worker',
      lease_until: leaseUntil,
      attempts: 1,
    });
  });

  it('answers asks in order whatever order their jobs come in, each seeing the answers before it', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const a = await ask(c, sessionId, 'Question A');
    const b = await ask(c, sessionId, 'Question B');
    const jobB = await inbox.job(askQueue(), b.message_id);
    const jobA = await inbox.job(askQueue(), a.message_id);

    // B's job answers the oldest waiting ask, A, then its own, B, with A's turn as history.
    expect(failures(await handleAsk(jobB.record))).toEqual([]);
    const answerA = defaultAnswer('Question A', 1);
    expect(await message(c, sessionId, a.message_id)).toMatchObject({ status: 'COMPLETED', content: answerA });
    expect(await message(c, sessionId, b.message_id)).toMatchObject({ status: 'COMPLETED', content: defaultAnswer('Question B', 3) });

    // A's job finds its ask answered: nothing more.
    expect(failures(await handleAsk(jobA.record))).toEqual([]);

    const completions = stub.completions();
    expect(completions).toHaveLength(2);
    expect(completions[0]!.body.messages).toEqual([{ role: 'user', content: 'Question A' }]);
    expect(completions[1]!.body.messages).toEqual([
      { role: 'user', content: 'Question A' },
      { role: 'assistant', content: answerA },
      { role: 'user', content: 'Question B' },
    ]);
  });

  it('fails at once, without calling the model, for an org with no key', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Anyone there?', await as('org_nokey'));
    expect(failures(await handleAsk(record))).toEqual([]);
    const sentence = 'OpenAI API key not found for organization org_nokey';
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'FAILED', content: sentence, error: sentence, completed_at: expect.any(String) });
    expect(stub.requests).toHaveLength(0);
  });

  it('puts a passing failure back for a later try, and fails it after JOB_MAX_ATTEMPTS tries', async () => {
    const maxAttempts = process.env.JOB_MAX_ATTEMPTS;
    process.env.JOB_MAX_ATTEMPTS = '2';
    try {
      stub.fail({ fault: { kind: 'server_error' }, times: 'always' });
      const { c, sessionId, messageId, record } = await askWithJob('Is the provider up?');

      expect(failures(await handleAsk(record))).toEqual([record.messageId]);
      expect(stub.requests).toHaveLength(3); // the SDK's try and its 2 retries
      expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'PENDING', content: '' });
      expect(await storedMessage(ORG, sessionId, messageId)).toMatchObject({
        attempts: 1,
        last_error: 'The model provider had an error (HTTP 500).',
      });

      // The worker made the job come back after its backoff (~1 s), not the queue's 12 minutes.
      const again = await inbox.job(askQueue(), messageId, 6_000);
      // A redelivery. (local-aws-sqs also counts the ChangeMessageVisibility as a receive: 3 here, 2 in SQS.)
      expect(Number(again.record.attributes.ApproximateReceiveCount)).toBeGreaterThanOrEqual(2);
      expect(failures(await handleAsk(again.record))).toEqual([]);
      expect(stub.requests).toHaveLength(6);
      expect(stub.completions()).toHaveLength(0);
      const sentence = 'The model provider had an error (HTTP 500), 2 times. Try again later.';
      expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'FAILED', content: sentence, error: sentence });
    } finally {
      if (maxAttempts === undefined) delete process.env.JOB_MAX_ATTEMPTS;
      else process.env.JOB_MAX_ATTEMPTS = maxAttempts;
    }
  });

  it('fails on a refused key (401) after one fresh read of the settings, and uses a rotated key', async () => {
    Object.assign(process.env, { org_rotate_OPENAI_API_KEY: 'sk-old', org_rotate_OPENAI_BASE_URL: stub.url });
    try {
      stub.fail({ fault: { kind: 'unauthorized' }, apiKey: 'sk-old', times: 'always' });
      const caller = await as('org_rotate');
      const refused = await askWithJob('Is my key good?', caller);
      expect(failures(await handleAsk(refused.record))).toEqual([]);
      const sentence = 'The model provider refused the API key of organization org_rotate (401). Set a valid key.';
      expect(await message(caller, refused.sessionId, refused.messageId)).toMatchObject({ status: 'FAILED', content: sentence, error: sentence });
      // The SDK does not retry a 401, and the fresh read gave the same key: no second call.
      expect(stub.requests.map((request) => request.apiKey)).toEqual(['sk-old']);

      // The key is rotated while the first call is on its way: the 401 makes the worker read the
      // settings afresh and try once more with the new key.
      stub.requests.length = 0;
      const rotated = await askWithJob('And now?', caller);
      stub.latency(300);
      const rotate = setInterval(() => {
        if (stub.requests.length > 0) process.env.org_rotate_OPENAI_API_KEY = 'sk-new';
      }, 5);
      try {
        expect(failures(await handleAsk(rotated.record))).toEqual([]);
      } finally {
        clearInterval(rotate);
      }
      expect(stub.requests.map((request) => request.apiKey)).toEqual(['sk-old', 'sk-new']);
      expect(stub.completions()).toHaveLength(1);
      expect(await message(caller, rotated.sessionId, rotated.messageId)).toMatchObject({
        status: 'COMPLETED',
        content: defaultAnswer('And now?', 1),
      });
    } finally {
      delete process.env.org_rotate_OPENAI_API_KEY;
      delete process.env.org_rotate_OPENAI_BASE_URL;
    }
  });

  it('writes progress and hears a cancel during the try with a rotated key too', async () => {
    Object.assign(process.env, { org_rotate_OPENAI_API_KEY: 'sk-old', org_rotate_OPENAI_BASE_URL: stub.url });
    try {
      stub.fail({ fault: { kind: 'unauthorized' }, apiKey: 'sk-old', times: 'always' });
      stub.reply(() => Array.from({ length: 40 }, (_, i) => `r${i}`).join(' '));
      stub.tokenGap(100);
      const caller = await as('org_rotate');
      const { sessionId, messageId, record } = await askWithJob('Rotate and stream', caller);
      // The key is rotated while the first call (with the old key) is on its way, as in the test above.
      stub.latency(300);
      const rotate = setInterval(() => {
        if (stub.requests.length > 0) process.env.org_rotate_OPENAI_API_KEY = 'sk-new';
      }, 5);
      const handled = handleAsk(record).finally(() => clearInterval(rotate));
      const partial = await processingWithText(caller, sessionId, messageId);
      expect(partial).not.toBe('');
      const cancelled = await caller.post(`/openai/sessions/${sessionId}/messages/${messageId}/cancel`, undefined);
      expect(cancelled.body.status).toBe('CANCELLED');
      expect(failures(await handled)).toEqual([]);
      expect(stub.requests.map((request) => request.apiKey)).toEqual(['sk-old', 'sk-new']);
      expect(stub.requests[1]!.hungUpAt).toBeDefined();
    } finally {
      delete process.env.org_rotate_OPENAI_API_KEY;
      delete process.env.org_rotate_OPENAI_BASE_URL;
    }
  }, 30_000);

  it('fails when the context length is exceeded', async () => {
    stub.fail({ fault: { kind: 'context_length_exceeded' }, times: 'always' });
    const { c, sessionId, messageId, record } = await askWithJob('A very long question');
    expect(failures(await handleAsk(record))).toEqual([]);
    const answered = await message(c, sessionId, messageId);
    expect(answered).toMatchObject({ status: 'FAILED' });
    expect(answered.content).toContain("The model's context length was exceeded");
    expect(answered.error).toBe(answered.content);
    expect(stub.requests).toHaveLength(1);
  });

  it('gives up a model call that would outlive the invocation, and puts the job back', async () => {
    stub.fail({ fault: { kind: 'slow', delayMs: 30_000 }, times: 'always' });
    const { c, sessionId, messageId, record } = await askWithJob('Will you answer in time?');
    const started = Date.now();
    // 17 s left, 10 s kept to write the outcome: about 7 s for the model.
    const response = await handleAsk(record, 17);
    const elapsed = Date.now() - started;
    // The model got its ~7 s (a lower bound holds on a slow machine too), and the worker stopped
    // before its invocation's own end, with the job put back: what happened, not how fast.
    expect(elapsed).toBeGreaterThan(6_000);
    expect(elapsed).toBeLessThan(17_000);
    expect(stub.requests).toHaveLength(1);
    expect(failures(response)).toEqual([record.messageId]);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'PENDING', content: '' });
    expect(await storedMessage(ORG, sessionId, messageId)).toMatchObject({ attempts: 1, last_error: 'The model did not answer in time.' });
    expect(stub.completions()).toHaveLength(0);
  }, 20_000);
});

describe('a batch of several sessions', () => {
  it('answers the sessions of one batch side by side, and each session’s turns in order', async () => {
    const MODEL_MS = 1000;
    stub.latency(MODEL_MS);
    const c = await as();
    const sessions = await Promise.all(Array.from({ length: 5 }, () => newSession(c)));
    const first = await Promise.all(sessions.map((sessionId, i) => ask(c, sessionId, `Batch turn 1 of session ${i}`)));
    const second = await ask(c, sessions[1]!, 'Batch turn 2 of session 1');
    const records = [];
    for (const asked of [...first, second]) records.push((await inbox.job(askQueue(), asked.message_id)).record);
    // As SQS fills a FIFO batch: several groups, each group's messages in order.
    expect(new Set(records.map((record) => record.attributes.MessageGroupId)).size).toBe(5);
    expect(failures(await askWorker({ Records: records }, lambdaContext('AskWorker', 120)))).toEqual([]);
    for (const [i, asked] of first.entries()) expect(await message(c, sessions[i]!, asked.message_id)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(c, sessions[1]!, second.message_id)).toMatchObject({ status: 'COMPLETED' });
    // Every session's first turn reached the model before any of them could have been answered.
    const firstCalls = first.map((_, i) => stub.requests.find((request) => request.body.messages.at(-1).content === `Batch turn 1 of session ${i}`)!);
    const earliest = Math.min(...firstCalls.map((call) => call.receivedAt));
    for (const call of firstCalls) expect(call.receivedAt - earliest).toBeLessThan(MODEL_MS);
    // Session 1's second turn waited for its first, and saw its answer.
    const secondCall = stub.requests.find((request) => request.body.messages.at(-1).content === 'Batch turn 2 of session 1')!;
    expect(secondCall.receivedAt - firstCalls[1]!.receivedAt).toBeGreaterThanOrEqual(MODEL_MS);
    expect(secondCall.body.messages.map((m: { content: string }) => m.content)).toContain('Batch turn 1 of session 1');
  }, 30_000);

  it('puts a job it had no time to try back on the queue as a new message, its receives and tries untouched', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Too late in the invocation');
    // 12 s left: less than a model call's minimum plus the margin for writing its answer.
    const response = await askWorker({ Records: [record] }, lambdaContext('AskWorker', 12));
    expect(failures(response)).toEqual([]);
    expect(stub.requests).toHaveLength(0);
    expect(await storedMessage(ORG, sessionId, messageId)).toMatchObject({ status: 'PENDING' });
    expect((await storedMessage(ORG, sessionId, messageId)).attempts).toBeUndefined();
    // A new message of the same job, received for the first time, in the same session's group.
    const again = await inbox.take(askQueue(), (candidate) => candidate.MessageId !== record.messageId && JSON.parse(candidate.Body!).message_id === messageId);
    expect(JSON.parse(again.record.body)).toEqual(JSON.parse(record.body));
    expect(again.record.attributes).toMatchObject({ ApproximateReceiveCount: '1', MessageGroupId: sessionId });
    expect(failures(await handleAsk(again.record))).toEqual([]);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED' });
  }, 30_000);

  it('holds back only the failing session: its later turn comes back with it, the other sessions are answered', async () => {
    // Two organizations, so that the provider's failures reach only one of them (by its key).
    Object.assign(process.env, { org_flaky_OPENAI_API_KEY: 'sk-flaky', org_flaky_OPENAI_BASE_URL: stub.url });
    const c = await as();
    const flaky = await as('org_flaky');
    const calm = await newSession(c);
    const failing = await newSession(flaky);
    const calmAsk = await ask(c, calm, 'Calm session');
    const failingFirst = await ask(flaky, failing, 'Failing session turn 1');
    const failingSecond = await ask(flaky, failing, 'Failing session turn 2');
    const records = [];
    for (const asked of [failingFirst, failingSecond, calmAsk]) records.push((await inbox.job(askQueue(), asked.message_id)).record);
    // Past the SDK's retries: the turn is tried again later.
    stub.fail({ fault: { kind: 'server_error' }, times: 'always', apiKey: 'sk-flaky' });
    const response = await askWorker({ Records: records }, lambdaContext('AskWorker', 120));
    expect(failures(response).sort()).toEqual([records[0]!.messageId, records[1]!.messageId].sort());
    expect(await message(c, calm, calmAsk.message_id)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(flaky, failing, failingFirst.message_id)).toMatchObject({ status: 'PENDING' });
    expect(await message(flaky, failing, failingSecond.message_id)).toMatchObject({ status: 'PENDING' });
    // Nothing of the held-back turn reached the model.
    expect(stub.requests.filter((request) => request.body.messages.at(-1).content === 'Failing session turn 2')).toEqual([]);
  }, 30_000);
});

describe('ctx worker', () => {
  it('sends tasks in their organization’s message group (an SQS fair queue), and puts one it had no time to try back in it', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Too late for a task');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    // One group per tenant: in AWS, a flood of one organization's tasks does not delay another's.
    expect(record.attributes.MessageGroupId).toBe(ORG);
    expect(failures(await ctxWorker({ Records: [record] }, lambdaContext('CtxWorker', 12)))).toEqual([]);
    expect(stub.requests).toHaveLength(0);
    const again = await inbox.take(ctxQueue(), (candidate) => candidate.MessageId !== record.messageId && JSON.parse(candidate.Body!).ctx_id === ctxId);
    expect(again.record.attributes).toMatchObject({ ApproximateReceiveCount: '1', MessageGroupId: ORG });
    expect(failures(await handleTask(again.record))).toEqual([]);
    expect(await task(c, sessionId, ctxId)).toMatchObject({ status: 'done' });
  }, 30_000);

  it('answers a task (plain and JSON results) once, even when delivered twice', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const plainId = await startTask(c, sessionId, 'Summarise the visit');
    const plain = await inbox.job(ctxQueue(), plainId);
    expect(JSON.parse(plain.record.body)).toEqual({ kind: 'ctx', org_id: ORG, session_id: sessionId, ctx_id: plainId, enqueued_at: expect.any(String) });

    expect(failures(await handleTask(plain.record))).toEqual([]);
    const reply = defaultAnswer('Summarise the visit', 1);
    const done = await task(c, sessionId, plainId);
    expect(done).toEqual({
      ctx_id: plainId,
      session_id: sessionId,
      status: 'done',
      result: reply,
      error: null,
      created_at: expect.any(String),
      completed_at: expect.any(String),
      model: 'gpt-4o',
      usage: expect.objectContaining({ completion_tokens: estimateTokens(reply) }),
      latency_ms: expect.any(Number),
      timings: { queue_ms: expect.any(Number), model_ms: expect.any(Number) },
    });

    // Delivered again: nothing more.
    expect(failures(await handleTask(plain.record))).toEqual([]);
    expect(stub.completions()).toHaveLength(1);
    expect(await task(c, sessionId, plainId)).toEqual(done);

    stub.reply(() => 'Here it is:\n```json\n{"diagnosis": "migraine", "follow_up": [1, 2]}\n```');
    const jsonId = await startTask(c, sessionId, 'Give JSON');
    const json = await inbox.job(ctxQueue(), jsonId);
    expect(failures(await handleTask(json.record))).toEqual([]);
    expect(await task(c, sessionId, jsonId)).toMatchObject({
      status: 'done',
      result: 'Here it is:\n```json\n{"diagnosis": "migraine", "follow_up": [1, 2]}\n```',
      result_json: { diagnosis: 'migraine', follow_up: [1, 2] },
    });
    expect(stub.completions()).toHaveLength(2);
  });
});

describe('history and deleted answers', () => {
  it('trims a stored history from its oldest end to fit the model’s context', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    // gpt-4 has an 8,192-token window, 4,096 kept for the answer: two turns of ~1,670 tokens fit, three do not.
    const turns = ['oldest', 'older', 'newer', 'newest'].map((name) => `${name} ${'x'.repeat(5_000)}`);
    for (const content of turns) expect((await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content })).status).toBe(201);
    const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Sum it up', model: 'gpt-4' });
    const { record } = await inbox.job(askQueue(), asked.body.message_id);
    expect(failures(await handleAsk(record))).toEqual([]);
    const sent = stub.completions()[0]!.body.messages.map((message: { content: string }) => message.content.split(' ')[0]);
    expect(sent).toEqual(['newer', 'newest', 'Sum']);
  });

  it('never writes an answer that was deleted while it waited', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Deleted before answered');
    expect((await c.delete(`/openai/sessions/${sessionId}/messages/${messageId}`)).status).toBe(200);
    expect(failures(await handleAsk(record))).toEqual([]);
    expect((await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`)).status).toBe(404);
    expect(stub.requests).toHaveLength(0);
  });
});

describe('odd model answers', () => {
  const completion = (message: Record<string, unknown> | null, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      id: 'chatcmpl-odd',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-4o',
      choices: message ? [{ index: 0, message, finish_reason: 'stop', logprobs: null }] : [],
      ...extra,
    });
  const withAttempts = async <T,>(attempts: string, run: () => Promise<T>): Promise<T> => {
    const saved = process.env.JOB_MAX_ATTEMPTS;
    process.env.JOB_MAX_ATTEMPTS = attempts;
    try {
      return await run();
    } finally {
      if (saved === undefined) delete process.env.JOB_MAX_ATTEMPTS;
      else process.env.JOB_MAX_ATTEMPTS = saved;
    }
  };

  it.each([
    ['content null', completion({ role: 'assistant', content: null })],
    ['an empty content', completion({ role: 'assistant', content: '' })],
    ['only white space', completion({ role: 'assistant', content: ' \n\t ' })],
    ['no choices', completion(null)],
  ])('fails a blank answer (%s) with a sentence, once, instead of COMPLETED with ""', async (_what, body) => {
    stub.fail({ fault: { kind: 'answer', body } });
    const { c, sessionId, messageId, record } = await askWithJob('Say something');
    expect(failures(await handleAsk(record))).toEqual([]);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'FAILED', error: 'The model gave an empty answer. Send the question again.' });
    expect(stub.requests).toHaveLength(1);
  });

  it('fails an answer that is only a tool call, saying tools are not supported yet', async () => {
    const toolCall = { id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{}' } };
    stub.fail({ fault: { kind: 'answer', body: completion({ role: 'assistant', content: null, tool_calls: [toolCall] }) } });
    const { c, sessionId, messageId, record } = await askWithJob('Use a tool');
    expect(failures(await handleAsk(record))).toEqual([]);
    expect(await message(c, sessionId, messageId)).toMatchObject({
      status: 'FAILED',
      error: 'The model answered with a tool call, which this service does not support yet. Send the question again.',
    });
  });

  it('names an answer that is not JSON in words, without the error class, and keeps provider text free of keys', async () => {
    await withAttempts('1', async () => {
      stub.fail({ fault: { kind: 'answer', body: '<html>oops</html>' }, times: 3 });
      const garbled = await askWithJob('Garbled?');
      expect(failures(await handleAsk(garbled.record))).toEqual([]);
      const failed = await message(garbled.c, garbled.sessionId, garbled.messageId);
      expect(failed.status).toBe('FAILED');
      expect(failed.error).toMatch(/^The model provider sent an answer that could not be read/);
      expect(failed.error).not.toMatch(/SyntaxError|Error\)/);

      stub.reset();
      const key = 'sk-live-AbCdEf0123456789AbCdEf0123456789';
      stub.fail({ fault: { kind: 'status', status: 400, message: `Bad request: ${key} is invalid for this project` } });
      const refused = await askWithJob('Refused?');
      expect(failures(await handleAsk(refused.record))).toEqual([]);
      const answer = await message(refused.c, refused.sessionId, refused.messageId);
      expect(answer).toMatchObject({ status: 'FAILED' });
      expect(answer.error).toContain('The model provider refused the request (HTTP 400)');
      expect(answer.error).not.toContain(key);
      expect(answer.error).not.toMatch(/sk-live-\w{6}/);
    });
  });

  it('fails an answer too large to store at once, with its size, and the next turn still gets its own model call', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    stub.reply((body) => (body.messages.at(-1).content === 'Write a book' ? 'x'.repeat(2_000_000) : 'short answer'));
    const big = await ask(c, sessionId, 'Write a book');
    const next = await ask(c, sessionId, 'And a haiku');
    const bigJob = await inbox.job(askQueue(), big.message_id);
    const nextJob = await inbox.job(askQueue(), next.message_id);
    expect(failures(await handleAsk(bigJob.record))).toEqual([]);
    const failed = await message(c, sessionId, big.message_id);
    expect(failed).toMatchObject({ status: 'FAILED' });
    expect(failed.error).toMatch(/^The model's answer \(1,95\d KB\) is larger than can be stored \(about \d+ KB here\)\. Ask for a shorter answer\.$/);
    expect(stub.completions()).toHaveLength(1);
    expect(failures(await handleAsk(nextJob.record))).toEqual([]);
    expect(await message(c, sessionId, next.message_id)).toMatchObject({ status: 'COMPLETED', content: 'short answer' });
    expect(stub.completions()).toHaveLength(2);
  });

  it('answers every accepted turn with its own model call, whatever job comes first', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const first = await ask(c, sessionId, 'First');
    const second = await ask(c, sessionId, 'Second');
    const firstJob = await inbox.job(askQueue(), first.message_id);
    const secondJob = await inbox.job(askQueue(), second.message_id);
    // The second ask's job comes first: it answers the first turn, then its own.
    expect(failures(await handleAsk(secondJob.record))).toEqual([]);
    expect(await message(c, sessionId, first.message_id)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(c, sessionId, second.message_id)).toMatchObject({ status: 'COMPLETED' });
    expect(failures(await handleAsk(firstJob.record))).toEqual([]);
    expect(stub.completions().map((request) => request.body.messages.at(-1).content)).toEqual(['First', 'Second']);
  });
});

describe('ctx worker: odd results', () => {
  it('keeps a JSON answer with numbers beyond double precision as text, and leaves result_json out', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const text = '{"id": 12345678901234567890, "huge": 1e400, "ok": 1.5}';
    const tiny = '{"tiny": 1e-200}';
    const deep = `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`;
    stub.reply(() => text);
    const ctxId = await startTask(c, sessionId, 'Give me ids');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    expect(failures(await handleTask(record))).toEqual([]);
    const done = await task(c, sessionId, ctxId);
    expect(done).toMatchObject({ status: 'done', result: text, error: null });
    expect(done).not.toHaveProperty('result_json');
    expect(stub.completions()).toHaveLength(1);
    // Numbers the store cannot hold (below 1e-130) and nesting past its 32 levels: the text only, too.
    for (const answer of [tiny, deep]) {
      stub.reply(() => answer);
      const id = await startTask(c, sessionId, 'More JSON');
      const job = await inbox.job(ctxQueue(), id);
      expect(failures(await handleTask(job.record))).toEqual([]);
      const stored = await task(c, sessionId, id);
      expect(stored).toMatchObject({ status: 'done', result: answer });
      expect(stored).not.toHaveProperty('result_json');
    }
  });
});

describe('dead-letter worker', () => {
  /** Puts a job's body on its dead-letter queue, as SQS does after the last receive, and hands it to the consumer. */
  async function dieAndHandle(queue: 'ask' | 'ctx', record: SQSRecord): Promise<SQSBatchResponse> {
    const target = deadLetters(queue);
    const job = JSON.parse(record.body);
    const fifo = queue === 'ask' ? { MessageGroupId: job.session_id, MessageDeduplicationId: randomUUID() } : {};
    await api.stack.sqs.client.send(new SendMessageCommand({ QueueUrl: target.url, MessageBody: record.body, ...fifo }));
    const dead = await inbox.job(target, job.message_id ?? job.ctx_id);
    return deadLetterWorker({ Records: [dead.record] }, lambdaContext('DeadLetters', 120));
  }

  it('fails a dead ask with a sentence that says to send it again, with the last problem seen', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Never answered');
    expect(failures(await dieAndHandle('ask', record))).toEqual([]);
    const sentence = 'This request could not be answered after several tries. Send it again.';
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'FAILED', content: sentence, error: sentence, completed_at: expect.any(String) });

    const tried = await askWithJob('Tried and failed');
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.message(ORG, tried.sessionId, tried.messageId),
        UpdateExpression: 'SET last_error = :error',
        ExpressionAttributeValues: { ':error': 'The model provider had an error (HTTP 500).' },
      }),
    );
    expect(failures(await dieAndHandle('ask', tried.record))).toEqual([]);
    const withProblem = 'This request could not be answered after several tries (last problem: The model provider had an error (HTTP 500)). Send it again.';
    expect(await message(tried.c, tried.sessionId, tried.messageId)).toMatchObject({ status: 'FAILED', content: withProblem, error: withProblem });
    expect(stub.requests).toHaveLength(0);
  });

  it('leaves an answered ask as it is', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Answered, then dead anyway');
    expect(failures(await handleAsk(record))).toEqual([]);
    const answered = await message(c, sessionId, messageId);
    expect(answered.status).toBe('COMPLETED');
    expect(failures(await dieAndHandle('ask', record))).toEqual([]);
    expect(await message(c, sessionId, messageId)).toEqual(answered);
  });

  it('fails a dead context task', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Never done');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    expect(failures(await dieAndHandle('ctx', record))).toEqual([]);
    expect(await task(c, sessionId, ctxId)).toMatchObject({
      status: 'error',
      result: null,
      error: 'This request could not be answered after several tries. Send it again.',
    });
  });
});

describe('records that are not jobs', () => {
  it('fails them (they come back at once, towards the dead-letter queue), and changes nothing', async () => {
    const sqs = api.stack.sqs.client;
    await sqs.send(new SendMessageCommand({ QueueUrl: askQueue().url, MessageBody: '{}', MessageGroupId: 'junk', MessageDeduplicationId: randomUUID() }));
    await sqs.send(new SendMessageCommand({ QueueUrl: ctxQueue().url, MessageBody: 'not json' }));
    const emptyObject = await inbox.take(askQueue(), (m) => m.Body === '{}');
    const notJson = await inbox.take(ctxQueue(), (m) => m.Body === 'not json');

    expect(failures(await handleAsk(emptyObject.record))).toEqual([emptyObject.record.messageId]);
    expect(failures(await handleTask(notJson.record))).toEqual([notJson.record.messageId]);
    // Failed with no delay: received again straight away, not after the queue's visibility timeout.
    const again = await inbox.take(ctxQueue(), (m) => m.Body === 'not json', 2_000);
    expect(Number(again.message.Attributes?.ApproximateReceiveCount)).toBeGreaterThan(1);
    // An ask job handed to the task worker is not its kind: failed too, the ask left waiting.
    const { c, sessionId, messageId, record } = await askWithJob('Wrong worker');
    expect(failures(await handleTask(record))).toEqual([record.messageId]);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'PENDING', content: '' });
    expect(stub.requests).toHaveLength(0);
  });

  it('hold back none of their session’s jobs in a FIFO batch', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Behind a bad record');
    const body = `junk ${randomUUID()}`;
    await api.stack.sqs.client.send(
      new SendMessageCommand({ QueueUrl: askQueue().url, MessageBody: body, MessageGroupId: sessionId, MessageDeduplicationId: randomUUID() }),
    );
    const junk = await inbox.take(askQueue(), (m) => m.Body === body);
    const response = await askWorker({ Records: [junk.record, record] }, lambdaContext('AskWorker', 120));
    expect(failures(response)).toEqual([junk.record.messageId]);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED' });
  });

  it('leave a healthy item alone when a job lands in the other queue’s dead-letter queue', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Fine on its own queue');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    // The task's job, as if it had reached the ask queue's dead-letter queue.
    const misplaced = { ...record, eventSourceARN: deadLetters('ask').arn };
    expect(failures(await deadLetterWorker({ Records: [misplaced] }, lambdaContext('DeadLetters', 120)))).toEqual([]);
    expect(await task(c, sessionId, ctxId)).toMatchObject({ status: 'pending' });
  });

  it('reach the dead-letter queue after their receives, whose consumer drops them', async () => {
    const body = `not a job ${randomUUID()}`;
    await api.stack.sqs.client.send(new SendMessageCommand({ QueueUrl: ctxQueue().url, MessageBody: body }));
    // Each failure brings it back at once, until a receive past maxReceiveCount moves it to the
    // dead-letter queue (local-aws-sqs counts the worker's ChangeMessageVisibility as a receive too,
    // so that takes fewer rounds here than in AWS).
    let rounds = 0;
    for (let next = await inbox.take(ctxQueue(), (m) => m.Body === body); next; rounds++) {
      expect(rounds).toBeLessThan(QUEUE_SETTINGS.maxReceiveCount);
      expect(failures(await handleTask(next.record))).toEqual([next.record.messageId]);
      next = await inbox.take(ctxQueue(), (m) => m.Body === body, 1_500).catch(() => undefined as never);
    }
    expect(rounds).toBeGreaterThan(0);
    const dead = await inbox.take(deadLetters('ctx'), (m) => m.Body === body);
    expect(failures(await deadLetterWorker({ Records: [dead.record] }, lambdaContext('DeadLetters', 120)))).toEqual([]);
    expect(stub.requests).toHaveLength(0);
  });
});

describe('progress while an answer is generated', () => {
  const words = Array.from({ length: 24 }, (_, i) => `word${i}`).join(' ');

  /** The progress items of one answer or task, read from the table. */
  async function liveItems(sessionId: string, itemId: string) {
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Items } = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :live)',
        ExpressionAttributeValues: { ':pk': keys.sessionPartition(ORG, sessionId), ':live': `LIVE#${itemId}` },
      }),
    );
    return Items ?? [];
  }

  it('shows the text so far while PROCESSING, only growing, then the whole answer; each progress write is small whatever the request', async () => {
    stub.reply(() => words);
    stub.tokenGap(60);
    const c = await as();
    const sessionId = await newSession(c);
    // A large request history: the answer's item is large, its progress writes must not be.
    const history = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `${i} ${'x'.repeat(2_500)}` }));
    const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Count', history });
    expect(asked.status).toBe(202);
    const { record } = await inbox.job(askQueue(), asked.body.message_id);
    const handled = handleAsk(record);

    const seen: string[] = [];
    let done = false;
    void handled.then(() => (done = true));
    while (!done) {
      const now = await message(c, sessionId, asked.body.message_id);
      if (now.status === 'PROCESSING') seen.push(now.content);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(failures(await handled)).toEqual([]);
    const final = await message(c, sessionId, asked.body.message_id);
    expect(final).toMatchObject({ status: 'COMPLETED', content: words, usage: { completion_tokens: estimateTokens(words) } });

    const partial = seen.filter((text) => text.length > 0 && text.length < words.length);
    expect(partial.length).toBeGreaterThanOrEqual(2);
    for (const [index, text] of seen.entries()) {
      expect(words.startsWith(text)).toBe(true);
      if (index > 0) expect(text.length).toBeGreaterThanOrEqual(seen[index - 1]!.length);
    }

    const items = await liveItems(sessionId, asked.body.message_id);
    const parts = items.filter((item) => String(item.sk).split('#').length > 2);
    // 24 words 60 ms apart (about 1.4 s) at most four writes a second: far fewer writes than words.
    const elapsed = stub.tokenTimes.get(stub.completions()[0]!)!;
    const seconds = (elapsed.at(-1)! - elapsed[0]!) / 1000;
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 2);
    expect(parts.length).toBeLessThan(24);
    for (const item of items) expect(Buffer.byteLength(JSON.stringify(item))).toBeLessThan(1024);
    expect(parts.map((item) => item.text).join('')).toBe(words.slice(0, parts.map((item) => item.text).join('').length));
  }, 30_000);

  it('leaves nothing of a session deleted while its answer streams: the worker stops, no progress item stays', async () => {
    stub.reply(() => words);
    stub.tokenGap(100);
    const c = await as();
    const sessionId = await newSession(c);
    const asked = await ask(c, sessionId, 'Delete me while you talk');
    const { record } = await inbox.job(askQueue(), asked.message_id);
    const handled = handleAsk(record);
    await processingWithText(c, sessionId, asked.message_id);
    expect(await c.delete(`/openai/sessions/${sessionId}`)).toMatchObject({ status: 200 });
    expect(failures(await handled)).toEqual([]);
    expect(stub.requests[0]!.hungUpAt).toBeDefined();
    const { QueryCommand } = await import('@aws-sdk/lib-dynamodb');
    const { Items } = await db.doc.send(
      new QueryCommand({ TableName: db.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.sessionPartition(ORG, sessionId) } }),
    );
    expect(Items).toEqual([]);
  }, 30_000);

  it('stops a worker whose claim was taken over while it streamed: one worker writes the answer', async () => {
    stub.reply((body) => `${body.messages.at(-1).content} ` + Array.from({ length: 30 }, (_, i) => `x${i}`).join(' '));
    stub.tokenGap(100);
    const c = await as();
    const sessionId = await newSession(c);
    const asked = await ask(c, sessionId, 'Taken over');
    const { record } = await inbox.job(askQueue(), asked.message_id);
    const first = handleAsk(record);
    await processingWithText(c, sessionId, asked.message_id);
    // Its lease runs out (as if it had stalled) and the job, delivered again, is taken over.
    const stored = await storedMessage(ORG, sessionId, asked.message_id);
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.message(ORG, sessionId, asked.message_id),
        UpdateExpression: 'SET lease_until = :past',
        ExpressionAttributeValues: { ':past': Date.now() - 1 },
      }),
    );
    const second = handleAsk(record);
    expect(failures(await second)).toEqual([]);
    expect(failures(await first)).toEqual([]);
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests[0]!.hungUpAt).toBeDefined();
    const answer = await message(c, sessionId, asked.message_id);
    expect(answer).toMatchObject({ status: 'COMPLETED', content: expect.stringMatching(/^Taken over x0 x1/) });
    const after = await storedMessage(ORG, sessionId, asked.message_id);
    expect(after.attempts).toBe(Number(stored.attempts) + 1);
    // Only the second claim's parts are committed; the first one's were left to expire or removed.
    const heads = (await liveItems(sessionId, asked.message_id)).filter((item) => String(item.sk).split('#').length === 2);
    expect(heads).toHaveLength(1);
    expect(Number(heads[0]!.generation)).toBe(Number(after.attempts));
  }, 30_000);

  it('shows a task’s result so far while processing', async () => {
    stub.reply(() => words);
    stub.tokenGap(60);
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Count');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    const handled = handleTask(record);
    let partial: string | undefined;
    for (let i = 0; i < 100 && partial === undefined; i++) {
      const now = await task(c, sessionId, ctxId);
      if (now.status === 'processing' && now.result) partial = now.result;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(failures(await handled)).toEqual([]);
    expect(words.startsWith(partial!)).toBe(true);
    expect(partial!.length).toBeLessThan(words.length);
    expect(await task(c, sessionId, ctxId)).toMatchObject({ status: 'done', result: words });
  }, 30_000);
});

describe('cancel', () => {
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
  const cancel = (c: Client, sessionId: string, messageId: string) => c.post(`/openai/sessions/${sessionId}/messages/${messageId}/cancel`, undefined);

  it('cancels a PENDING answer at once: its job asks nothing, a second cancel answers it again, the next turn is answered', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Never mind');
    const cancelled = await cancel(c, sessionId, messageId);
    expect(cancelled).toMatchObject({ status: 200, body: { message_id: messageId, status: 'CANCELLED', error: 'Cancelled by the user.', content: '' } });
    expect(await cancel(c, sessionId, messageId)).toMatchObject({ status: 200, body: cancelled.body });
    expect(failures(await handleAsk(record))).toEqual([]);
    expect(stub.requests).toHaveLength(0);
    const next = await ask(c, sessionId, 'Next one');
    const { record: nextRecord } = await inbox.job(askQueue(), next.message_id);
    expect(failures(await handleAsk(nextRecord))).toEqual([]);
    expect(await message(c, sessionId, next.message_id)).toMatchObject({ status: 'COMPLETED' });
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'CANCELLED' });
  });

  it('cancels a PENDING answer that an earlier try streamed part of with that text, as the worker does', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Tried before');
    // An earlier try committed progress, then was released (a passing failure): the answer waits again.
    const { liveWriter } = await import('../../shared/jobs/progress.js');
    const earlier = liveWriter(db, { orgId: ORG, sessionId, itemId: messageId }, 'earlier-worker', 1);
    expect(await earlier.append('Half an ')).toBe(true);
    expect(await earlier.append('answer')).toBe(true);
    expect(await message(c, sessionId, messageId)).toMatchObject({ status: 'PENDING' });
    const cancelled = await cancel(c, sessionId, messageId);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'CANCELLED', content: 'Half an answer', error: 'Cancelled by the user.' } });
    expect(failures(await handleAsk(record))).toEqual([]);
    expect(stub.requests).toHaveLength(0);
    expect(await message(c, sessionId, messageId)).toEqual(cancelled.body);
  });

  it('cancels an answer being generated: CANCELLED at once with its text so far, the model call stopped within 2 s, the next turn not held back', async () => {
    stub.reply((body) => (body.messages.at(-1).content === 'Long one' ? words : 'short answer'));
    stub.tokenGap(100);
    const c = await as();
    const sessionId = await newSession(c);
    const first = await ask(c, sessionId, 'Long one');
    const second = await ask(c, sessionId, 'After it');
    const { record } = await inbox.job(askQueue(), first.message_id);
    const { record: secondRecord } = await inbox.job(askQueue(), second.message_id);
    const handled = handleAsk(record);

    await processingWithText(c, sessionId, first.message_id);
    const cancelledAt = Date.now();
    const cancelled = await cancel(c, sessionId, first.message_id);
    expect(cancelled).toMatchObject({ status: 200, body: { status: 'CANCELLED', error: 'Cancelled by the user.' } });
    const kept = cancelled.body.content as string;
    expect(kept.length).toBeGreaterThan(0);
    expect(words.startsWith(kept)).toBe(true);
    expect(kept.length).toBeLessThan(words.length);

    expect(failures(await handled)).toEqual([]);
    const longCall = stub.requests.find((request) => request.body.messages.at(-1).content === 'Long one')!;
    expect(longCall.hungUpAt).toBeDefined();
    expect(longCall.hungUpAt! - cancelledAt).toBeLessThan(2000);
    // The worker wrote nothing over the cancel.
    expect(await message(c, sessionId, first.message_id)).toMatchObject({ status: 'CANCELLED', content: kept });

    stub.tokenGap(0);
    expect(failures(await handleAsk(secondRecord))).toEqual([]);
    const answered = await message(c, sessionId, second.message_id);
    expect(answered).toMatchObject({ status: 'COMPLETED', content: 'short answer' });
    // The next turn's prompt has the question before it, and not the cancelled half answer.
    const secondCall = stub.requests.find((request) => request.body.messages.at(-1).content === 'After it')!;
    expect(secondCall.body.messages.map((m: { content: string }) => m.content)).not.toContain(kept);
  }, 30_000);

  it('cancels a task being answered, keeping its result so far', async () => {
    stub.reply(() => words);
    stub.tokenGap(100);
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Long task');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    const handled = handleTask(record);
    for (let i = 0; i < 200; i++) {
      const now = await task(c, sessionId, ctxId);
      if (now.status === 'processing' && now.result) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const cancelled = await c.post(`/openai/sessions/${sessionId}/ctx/${ctxId}/cancel`, undefined);
    expect(cancelled).toMatchObject({ status: 200, body: { ctx_id: ctxId, status: 'cancelled', error: 'Cancelled by the user.' } });
    expect(words.startsWith(cancelled.body.result)).toBe(true);
    expect(failures(await handled)).toEqual([]);
    expect(await task(c, sessionId, ctxId)).toMatchObject({ status: 'cancelled', result: cancelled.body.result });
  }, 30_000);

  it('refuses what cannot be cancelled: a finished answer, a user message, another owner, another tenant', async () => {
    const { c, sessionId, messageId, userMessageId, record } = await askWithJob('Done soon');
    expect(failures(await handleAsk(record))).toEqual([]);
    expect(await cancel(c, sessionId, messageId)).toMatchObject({ status: 409, body: { code: 'already_finished' } });
    expect(await cancel(c, sessionId, userMessageId)).toMatchObject({ status: 409, body: { code: 'not_cancellable' } });
    const admin = client(api.url, await api.token({ org: ORG, user: 'user_admin', role: 'org:admin' }));
    expect(await cancel(admin, sessionId, messageId)).toMatchObject({ status: 403, body: { code: 'not_session_owner' } });
    const outsider = client(api.url, await api.token({ org: 'org_other', user: 'user_worker' }));
    expect(await cancel(outsider, sessionId, messageId)).toMatchObject({ status: 404 });
    expect(await cancel(c, sessionId, 'nope')).toMatchObject({ status: 404 });
    expect(await c.post(`/openai/sessions/${sessionId}/ctx/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel`, undefined)).toMatchObject({ status: 404 });
  });
});

describe('?wait on the GETs', () => {
  it('answers a waiting GET as soon as the answer has finished, and a short wait with the state it has', async () => {
    const { c, sessionId, messageId, record } = await askWithJob('Wait for me');
    const started = Date.now();
    const short = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}?wait=1`);
    expect(short).toMatchObject({ status: 200, body: { status: 'PENDING' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);

    let answeredAt = 0;
    const waiting = c.get(`/openai/sessions/${sessionId}/messages/${messageId}?wait=20`).then((answer) => ((answeredAt = Date.now()), answer));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answeredAt).toBe(0);
    expect(failures(await handleAsk(record))).toEqual([]);
    const finishedAt = Date.now();
    const answer = await waiting;
    expect(answer).toMatchObject({ status: 200, body: { status: 'COMPLETED', message_id: messageId } });
    // Well before the 20 s: within a few polls of the write.
    expect(answeredAt - finishedAt).toBeLessThan(5_000);
  }, 30_000);

  it('waits for a task the same way, and refuses a wait outside 1..20', async () => {
    const c = await as();
    const sessionId = await newSession(c);
    const ctxId = await startTask(c, sessionId, 'Wait task');
    const { record } = await inbox.job(ctxQueue(), ctxId);
    const waiting = c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}?wait=20`);
    expect(failures(await handleTask(record))).toEqual([]);
    expect(await waiting).toMatchObject({ status: 200, body: { status: 'done' } });
    for (const wait of ['0', '21', 'x', '1.5']) {
      expect(await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}?wait=${wait}`)).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    }
    // A finished one answers at once.
    expect(await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}?wait=20`)).toMatchObject({ status: 200, body: { status: 'done' } });
  }, 30_000);
});
