/**
 * SQS faults, injected by a proxy between local-aws-sqs and both its callers (the handlers, and the
 * pollers that stand in for Lambda's event source mappings): a send refused past the SDK's retries,
 * a send that took effect but whose answer was lost, a delete, a visibility change and receives
 * that fail. Nothing accepted is lost, nothing waits forever, nothing is answered twice.
 */
import { WORKERS } from '../../shared/contract/workers.js';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { localCredentials } from '../../bin/local/aws.js';
import { workerPollers } from '../../bin/local/local-workers.js';
import type { SqsPoller } from '../../bin/local/poller.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { client, PROJECT_ROOT, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

const ORG = 'org_queue_faults';
let api: TestApi;
let proxy: FaultProxy;
let stub: StubOpenAI;
let pollers: SqsPoller[] = [];
let pollerLog: string[] = [];
let c: ReturnType<typeof client>;

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({
    workers: false,
    visibilityTimeoutSeconds: 2,
    env: { [`${ORG}_OPENAI_API_KEY`]: 'sk-queue-faults', [`${ORG}_OPENAI_BASE_URL`]: stub.url, JOB_RETRY_BASE_SECONDS: '1' },
  });
  proxy = await startFaultProxy(api.stack.sqsEndpoint);
  // The SQS client sends each call to its queue URL's host: the handlers' queue URLs name the proxy.
  for (const variable of ['ASK_QUEUE_URL', 'CTX_QUEUE_URL']) process.env[variable] = process.env[variable]!.replace(api.stack.sqsEndpoint, proxy.url);
  process.env.AWS_ENDPOINT_URL_SQS = proxy.url;
  pollers = workerPollers(api.stack.sqs.queues, {
    client: new SQSClient({ endpoint: proxy.url, ...localCredentials }),
    entryFile: (entry) => join(PROJECT_ROOT, entry),
    log: (line) => pollerLog.push(line),
  });
  for (const poller of pollers) poller.start();
  c = client(api.url, await api.token({ org: ORG, user: 'user_queue_faults' }));
}, 30_000);
afterAll(async () => {
  await Promise.all(pollers.map((poller) => poller.stop()));
  await api?.close();
  await proxy?.close();
  await stub?.close();
});
afterEach(() => {
  proxy.clear();
  proxy.injected.clear();
  stub.reset();
  pollerLog = [];
});

const UNAVAILABLE = { status: 503, type: 'ServiceUnavailable' };

const newSession = async (): Promise<string> => (await c.post('/openai/sessions', {})).body.session_id;
const modelCallsFor = (text: string) => stub.completions().filter((request) => JSON.stringify(request.body.messages).includes(text)).length;

/** Messages on a queue, visible or in flight, read from the emulator itself (local-aws-sqs counts both in ApproximateNumberOfMessages). */
async function messagesOn(queue: 'ask' | 'ctx'): Promise<number> {
  const { Attributes } = await api.stack.sqs.client.send(
    new GetQueueAttributesCommand({ QueueUrl: api.stack.sqs.queues[queue].url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages);
}

async function until(what: string, condition: () => Promise<boolean> | boolean, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('answers 503 with Retry-After when SendMessage fails past the SDK’s retries, and keeps nothing of the ask or task', async () => {
  const sessionId = await newSession();
  proxy.fail({ operation: 'SendMessage', ...UNAVAILABLE, times: 6 });
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'unqueued ask' });
  expect(asked).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
  expect(asked.headers.get('retry-after')).toBe('5');
  const task = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'unqueued task' });
  expect(task).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
  expect(proxy.injected.get('SendMessage')).toBe(6); // three tries each
  proxy.clear();

  expect((await c.get(`/openai/sessions/${sessionId}/messages`)).body.items).toEqual([]);
  expect((await c.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(0);
  const again = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'queued ask' });
  expect(await settledMessage(c, sessionId, again.body.message_id)).toMatchObject({ status: 'COMPLETED' });
  expect(modelCallsFor('unqueued')).toBe(0);
}, 40_000);

it('answers an ask once when SendMessage took effect but its answer was lost (the retried send is deduplicated)', async () => {
  const sessionId = await newSession();
  const sends = proxy.received.get('SendMessage') ?? 0;
  proxy.fail({ operation: 'SendMessage', ...UNAVAILABLE, times: 1, afterForwarding: true });
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'sent twice' });
  expect(asked.status).toBe(202);
  expect(proxy.received.get('SendMessage')).toBe(sends + 2);
  expect(await settledMessage(c, sessionId, asked.body.message_id)).toMatchObject({ status: 'COMPLETED' });
  await until('the ask queue to be empty', async () => (await messagesOn('ask')) === 0);
  expect(modelCallsFor('sent twice')).toBe(1);
}, 40_000);

it('answers a send that failed yet reached the queue exactly as the API said: 503 never answered, 202 answered once', async () => {
  for (let round = 0; round < 4; round++) {
    const sessionId = await newSession();
    const text = `queued though refused ${round}`;
    proxy.fail({ operation: 'SendMessage', ...UNAVAILABLE, times: 3, afterForwarding: true });
    const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: text });
    // The job is on the queue (once: the tries share a deduplication id) whatever the API answered.
    await until('the ask queue to be empty', async () => (await messagesOn('ask')) === 0);
    if (asked.status === 503) {
      expect(asked.body.code).toBe('queue_unavailable');
      expect(modelCallsFor(text)).toBe(0);
      expect((await c.get(`/openai/sessions/${sessionId}/messages`)).body.items).toEqual([]);
      expect((await c.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(0);
    } else {
      // A worker had claimed the answer before the send gave up: the ask was accepted after all.
      expect(asked.status).toBe(202);
      expect(await settledMessage(c, sessionId, asked.body.message_id)).toMatchObject({ status: 'COMPLETED' });
      expect(modelCallsFor(text)).toBe(1);
      expect((await c.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(2);
    }
  }
}, 60_000);

it('runs a task once when its send reached the standard queue twice', async () => {
  const sessionId = await newSession();
  const sends = proxy.received.get('SendMessage') ?? 0;
  const deferrals = proxy.received.get('ChangeMessageVisibility') ?? 0;
  proxy.fail({ operation: 'SendMessage', ...UNAVAILABLE, times: 1, afterForwarding: true });
  // The model is slow, so the second copy is received while the first is being answered, whatever
  // order the poller and the batch processor take them in.
  stub.fail({ fault: { kind: 'slow', delayMs: 1000 } }); // under the 2 s visibility timeout: the first copy does not come back
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'queued twice' });
  expect(started.status).toBe(202);
  expect(proxy.received.get('SendMessage')).toBe(sends + 2);
  await until('the task to be done', async () => (await c.get(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}`)).body.status === 'done');
  // The second copy found the task claimed: it is put back until the claim's lease would end (at
  // most a minute), when it finds the task done and is deleted, instead of being answered again.
  await until('the second copy to be put back', () => (proxy.received.get('ChangeMessageVisibility') ?? 0) >= deferrals + 1);
  await until('the first copy to be deleted', async () => (await messagesOn('ctx')) === 1);
  expect(modelCallsFor('queued twice')).toBe(1);
}, 40_000);

it('does not answer again when the poller cannot delete a handled job: it comes back and is acknowledged', async () => {
  const sessionId = await newSession();
  proxy.fail({ operation: 'DeleteMessageBatch', ...UNAVAILABLE, times: 3 });
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'not deleted' });
  const answer = await settledMessage(c, sessionId, asked.body.message_id);
  expect(answer).toMatchObject({ status: 'COMPLETED' });
  await until('the delete to fail', () => proxy.injected.get('DeleteMessageBatch') === 3);
  // Back after the visibility timeout, handled again, deleted this time.
  await until('the ask queue to be empty', async () => (await messagesOn('ask')) === 0);
  expect(pollerLog.some((line) => line.includes('could not delete handled messages'))).toBe(true);
  expect(modelCallsFor('not deleted')).toBe(1);
  expect((await c.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).body).toEqual(answer);
}, 40_000);

it('answers a job whose retry could not be scheduled (ChangeMessageVisibility failed): it comes back after the visibility timeout', async () => {
  const sessionId = await newSession();
  stub.fail({ fault: { kind: 'rate_limit' }, times: 3 }); // past the OpenAI SDK's own retries: the job is retried later
  proxy.fail({ operation: 'ChangeMessageVisibility', ...UNAVAILABLE, times: 3 });
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'retry unscheduled' });
  expect(await settledMessage(c, sessionId, asked.body.message_id, 40)).toMatchObject({ status: 'COMPLETED' });
  expect(proxy.injected.get('ChangeMessageVisibility')).toBe(3);
  expect(modelCallsFor('retry unscheduled')).toBe(1);
}, 60_000);

it('goes on polling while ReceiveMessage fails, and answers what was queued meanwhile', async () => {
  const sessionId = await newSession();
  const receives = proxy.received.get('ReceiveMessage') ?? 0;
  // Each poller's failed receive is tried again by the SDK (3 attempts), then 500 ms later: about 7
  // faults a poller in the 1.2 s below. Enough for every poller the stack runs to outlast that.
  const FAULTS = 12 * WORKERS.length;
  proxy.fail({ operation: 'ReceiveMessage', ...UNAVAILABLE, times: FAULTS });
  // A long poll sent before the fault may still answer (a poll waits at most 1 s): after that, every
  // receive goes through the fault, and the ask is received only once the faults are used up.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  expect(proxy.injected.get('ReceiveMessage') ?? 0).toBeLessThan(FAULTS);
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'received late' });
  expect(await settledMessage(c, sessionId, asked.body.message_id, 40)).toMatchObject({ status: 'COMPLETED' });
  expect(proxy.injected.get('ReceiveMessage')).toBe(FAULTS);
  expect(proxy.received.get('ReceiveMessage')! - receives).toBeGreaterThan(FAULTS);
  expect(modelCallsFor('received late')).toBe(1);
}, 60_000);
