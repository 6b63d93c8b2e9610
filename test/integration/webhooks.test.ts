/**
 * Completion events over HTTP on the local stack: a receiver on 127.0.0.1 gets each finished
 * answer's and task's event, signed as Standard Webhooks says (checked with the `standardwebhooks`
 * verifier); a refused try comes back with the same webhook-id; a slow receiver slows no answer and
 * no other organization's events; an event that keeps failing ends in the dead-letter queue.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OTHER_SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A webhook receiver: records what it gets; `answer` decides each answer (status, delay). */
async function startReceiver() {
  const received: Received[] = [];
  let answer: (request: Received) => { status: number; delayMs?: number } = () => ({ status: 204 });
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const request = { path: req.url ?? '', headers: req.headers, body, at: Date.now() };
      received.push(request);
      const { status, delayMs = 0 } = answer(request);
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(status).end();
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    answer: (fn: typeof answer) => (answer = fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let api: TestApi;
let stub: StubOpenAI;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  receiver = await startReceiver();
  api = await startTestApi({
    visibilityTimeoutSeconds: 2,
    env: {
      org_hook_OPENAI_API_KEY: 'sk-hook',
      org_hook_OPENAI_BASE_URL: stub.url,
      org_hook_WEBHOOK_URL: `${receiver.url}/hook`,
      org_hook_WEBHOOK_SECRET: SECRET,
      org_hook2_OPENAI_API_KEY: 'sk-hook2',
      org_hook2_OPENAI_BASE_URL: stub.url,
      org_hook2_WEBHOOK_URL: `${receiver.url}/other`,
      org_hook2_WEBHOOK_SECRET: OTHER_SECRET,
      org_quiet_OPENAI_API_KEY: 'sk-quiet',
      org_quiet_OPENAI_BASE_URL: stub.url,
      LOCAL_WEBHOOK_RETRY_SECONDS: '1,1,1,1,1,1,1',
      JOB_RETRY_BASE_SECONDS: '1',
    },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await receiver?.close();
  await stub?.close();
  process.env = savedEnv;
});
beforeEach(() => {
  receiver.received.length = 0;
  receiver.answer(() => ({ status: 204 }));
  stub.reset();
});

const as = async (org: string, user = 'user_hook') => client(api.url, await api.token({ org, user }));
const verified = (request: Received, secret = SECRET) => new Webhook(secret).verify(request.body, request.headers as Record<string, string>) as { type: string; timestamp: string; data: any };

async function eventFor(id: string, count = 1, seconds = 15): Promise<Received[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const matching = receiver.received.filter((request) => JSON.parse(request.body).data?.message_id === id || JSON.parse(request.body).data?.ctx_id === id);
    if (matching.length >= count) return matching;
    if (Date.now() > deadline) throw new Error(`expected ${count} deliveries of ${id}, got ${matching.length}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it('POSTs a finished answer as message.completed, signed, with the message as its GET answers it plus org_id', async () => {
  const c = await as('org_hook');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Tell me when done' });
  const answer = await settledMessage(c, sessionId, asked.body.message_id);
  const [delivery] = await eventFor(asked.body.message_id);
  expect(delivery!.path).toBe('/hook');
  expect(delivery!.headers['content-type']).toBe('application/json');
  expect(delivery!.headers['webhook-id']).toBe(`evt_${asked.body.message_id}`);
  expect(Math.abs(Number(delivery!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
  const event = verified(delivery!);
  expect(event).toEqual({ type: 'message.completed', timestamp: expect.any(String), data: { ...answer, org_id: 'org_hook' } });
  // Signed with this organization's secret, not another's.
  expect(() => verified(delivery!, OTHER_SECRET)).toThrow();
});

it('tries a refused delivery again, with the same webhook-id and a fresh signature', async () => {
  let tries = 0;
  receiver.answer(() => ({ status: ++tries === 1 ? 500 : 200 }));
  const c = await as('org_hook');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Retry me' });
  const [first, second] = await eventFor(asked.body.message_id, 2);
  expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
  expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
  expect(verified(second!).type).toBe('message.completed');
  expect(verified(first!).data).toEqual(verified(second!).data);
});

it('sends failed and cancelled answers and done and failed tasks, and nothing for an organization without a webhook', async () => {
  const c = await as('org_hook');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  stub.fail({ fault: { kind: 'unauthorized' } as never });
  const failed = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'This one fails' });
  expect(verified((await eventFor(failed.body.message_id))[0]!)).toMatchObject({ type: 'message.failed', data: { status: 'FAILED', error: expect.any(String) } });

  stub.tokenGap(50);
  stub.reply(() => Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '));
  const long = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Talk long' });
  for (let i = 0; i < 200; i++) {
    const now = (await c.get(`/openai/sessions/${sessionId}/messages/${long.body.message_id}`)).body;
    if (now.status === 'PROCESSING' && now.content) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const cancelled = (await c.post(`/openai/sessions/${sessionId}/messages/${long.body.message_id}/cancel`, undefined)).body;
  const cancelEvents = await eventFor(long.body.message_id);
  expect(verified(cancelEvents[0]!)).toEqual({ type: 'message.cancelled', timestamp: expect.any(String), data: { ...cancelled, org_id: 'org_hook' } });
  stub.reset();

  const task = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize' });
  expect(verified((await eventFor(task.body.ctx_id))[0]!)).toMatchObject({ type: 'task.done', data: { ctx_id: task.body.ctx_id, status: 'done', org_id: 'org_hook' } });
  stub.fail({ fault: { kind: 'unauthorized' } as never });
  const badTask = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Fail' });
  expect(verified((await eventFor(badTask.body.ctx_id))[0]!)).toMatchObject({ type: 'task.error', data: { status: 'error' } });

  const quiet = await as('org_quiet');
  const quietSession = (await quiet.post('/openai/sessions', {})).body.session_id;
  const quietAsk = await quiet.post(`/openai/sessions/${quietSession}/ask`, { message: 'No one listens' });
  await settledMessage(quiet, quietSession, quietAsk.body.message_id);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(receiver.received.some((request) => request.body.includes(quietAsk.body.message_id))).toBe(false);
}, 60_000);

it('lets a slow receiver delay no answer and no other organization’s events', async () => {
  receiver.answer((request) => ({ status: 200, delayMs: request.path === '/hook' ? 8_000 : 0 }));
  const slow = await as('org_hook');
  const other = await as('org_hook2');
  const slowSession = (await slow.post('/openai/sessions', {})).body.session_id;
  const first = await slow.post(`/openai/sessions/${slowSession}/ask`, { message: 'One' });
  await eventFor(first.body.message_id); // its receiver now hangs for 8 s
  const started = Date.now();
  const second = await slow.post(`/openai/sessions/${slowSession}/ask`, { message: 'Two' });
  expect(await settledMessage(slow, slowSession, second.body.message_id)).toMatchObject({ status: 'COMPLETED' });
  const otherSession = (await other.post('/openai/sessions', {})).body.session_id;
  const otherAsk = await other.post(`/openai/sessions/${otherSession}/ask`, { message: 'Elsewhere' });
  const [otherEvent] = await eventFor(otherAsk.body.message_id, 1, 5);
  expect(verified(otherEvent!, OTHER_SECRET).type).toBe('message.completed');
  expect(Date.now() - started).toBeLessThan(5_000);
}, 30_000);

it('puts an event whose receiver keeps failing in the dead-letter queue after its tries', async () => {
  receiver.answer(() => ({ status: 503 }));
  const c = await as('org_hook');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Nobody home' });
  const tries = await eventFor(asked.body.message_id, 8, 40);
  expect(new Set(tries.map((request) => request.headers['webhook-id']))).toEqual(new Set([`evt_${asked.body.message_id}`]));
  const deadLetters = api.stack.sqs.queues.webhooks.deadLetterUrl;
  let waiting = 0;
  for (let i = 0; i < 100 && !waiting; i++) {
    const { Attributes } = await api.stack.sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: deadLetters, AttributeNames: ['ApproximateNumberOfMessages'] }));
    waiting = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
    if (!waiting) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(waiting).toBe(1);
  expect(receiver.received.filter((request) => request.body.includes(asked.body.message_id))).toHaveLength(8);
}, 60_000);
