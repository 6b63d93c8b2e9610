/**
 * Streams (Server-Sent Events) over real HTTP, through the local gateway and the very handler
 * modules that deploy, with the workers answering from a stub model that streams word by word.
 */
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';
import { serverSentEvents, type ServerSentEvent } from '../../bin/local/http-client.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';

const ORG = 'org_streams';
let api: TestApi;
let stub: StubOpenAI;
let c: ReturnType<typeof client>;
let token: string;
const words = Array.from({ length: 30 }, (_, i) => `t${i}`).join(' ');

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({ env: { [`${ORG}_OPENAI_API_KEY`]: 'sk-streams', [`${ORG}_OPENAI_BASE_URL`]: stub.url } });
  token = await api.token({ org: ORG, user: 'user_streams' });
  c = client(api.url, token);
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  stub.reply(() => words);
  stub.tokenGap(50);
});

/** Reads a stream's events as they come, until it ends or `stopAfter` says so (then hangs up). */
async function readStream(
  path: string,
  options: { token?: string; lastEventId?: string; stopAfter?: (events: ServerSentEvent[]) => boolean } = {},
): Promise<{ status: number; contentType: string | null; events: ServerSentEvent[]; body?: unknown }> {
  const abort = new AbortController();
  const response = await fetch(`${api.url}${path}`, {
    headers: { authorization: `Bearer ${options.token ?? token}`, ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}) },
    signal: abort.signal,
  });
  const contentType = response.headers.get('content-type');
  if (!contentType?.startsWith('text/event-stream')) return { status: response.status, contentType, events: [], body: await response.json() };
  const events: ServerSentEvent[] = [];
  try {
    for await (const event of serverSentEvents(response.body!)) {
      events.push(event);
      if (options.stopAfter?.(events)) {
        abort.abort();
        return { status: response.status, contentType, events };
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) throw error;
  }
  return { status: response.status, contentType, events };
}

const deltas = (events: ServerSentEvent[]) => events.filter((event) => event.event === 'delta');
const text = (events: ServerSentEvent[]) => deltas(events).map((event) => JSON.parse(event.data!).content).join('');
const done = (events: ServerSentEvent[]) => events.find((event) => event.event === 'done');

async function newAsk(message = 'Stream it'): Promise<{ sessionId: string; messageId: string }> {
  const sessionId = (await c.post('/openai/sessions', { name: 'streams' })).body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message });
  expect(asked.status).toBe(202);
  return { sessionId, messageId: asked.body.message_id };
}

it('streams an answer as it is written: several deltas that add up to the final content, then done with the message', async () => {
  const { sessionId, messageId } = await newAsk();
  const streamed = await readStream(`/openai/sessions/${sessionId}/messages/${messageId}/stream`);
  expect(streamed.status).toBe(200);
  expect(streamed.contentType).toMatch(/^text\/event-stream/);
  expect(deltas(streamed.events).length).toBeGreaterThanOrEqual(2);
  expect(text(streamed.events)).toBe(words);
  const final = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
  expect(JSON.parse(done(streamed.events)!.data!)).toEqual(final.body);
  expect(final.body).toMatchObject({ status: 'COMPLETED', content: words });
  // Each delta's id is the characters sent so far, and a check of them.
  expect(deltas(streamed.events).at(-1)!.id).toMatch(new RegExp(`^${words.length}\\.[0-9a-z]+$`));
}, 30_000);

it('gives a stream opened after the end the whole text, then done', async () => {
  const { sessionId, messageId } = await newAsk();
  expect(await settledMessage(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED' });
  const streamed = await readStream(`/openai/sessions/${sessionId}/messages/${messageId}/stream`);
  expect(text(streamed.events)).toBe(words);
  expect(JSON.parse(done(streamed.events)!.data!)).toMatchObject({ status: 'COMPLETED', content: words });
}, 30_000);

it('gives a stream opened while the answer is being written what came before it first, then the rest', async () => {
  stub.tokenGap(80);
  const { sessionId, messageId } = await newAsk();
  let soFar = '';
  for (let i = 0; i < 200 && !soFar; i++) {
    const now = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
    if (now.body.status === 'PROCESSING' && now.body.content) soFar = now.body.content;
    else await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect(soFar.length).toBeGreaterThan(0);
  expect(soFar.length).toBeLessThan(words.length);
  const streamed = await readStream(`/openai/sessions/${sessionId}/messages/${messageId}/stream`);
  const first = JSON.parse(deltas(streamed.events)[0]!.data!).content as string;
  expect(first.startsWith(soFar)).toBe(true);
  expect(deltas(streamed.events).length).toBeGreaterThanOrEqual(2);
  expect(text(streamed.events)).toBe(words);
  expect(JSON.parse(done(streamed.events)!.data!)).toMatchObject({ status: 'COMPLETED', content: words });
}, 30_000);

it('resumes after a dropped connection with Last-Event-ID: nothing repeated, nothing lost', async () => {
  // Three seconds of answer: progress is written once a second, so the second delta comes before the end.
  stub.tokenGap(100);
  const { sessionId, messageId } = await newAsk();
  const path = `/openai/sessions/${sessionId}/messages/${messageId}/stream`;
  const first = await readStream(path, { stopAfter: (events) => deltas(events).length === 2 });
  const lastId = deltas(first.events).at(-1)!.id!;
  expect(Number(lastId.split('.')[0])).toBeLessThan(words.length);
  const rest = await readStream(path, { lastEventId: lastId });
  expect(text(first.events) + text(rest.events)).toBe(words);
  expect(done(rest.events)).toBeDefined();
}, 30_000);

it('streams a task’s result the same way', async () => {
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Stream a task' });
  const streamed = await readStream(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}/stream`);
  expect(text(streamed.events)).toBe(words);
  expect(JSON.parse(done(streamed.events)!.data!)).toMatchObject({ status: 'done', result: words });
}, 30_000);

it('ends the stream of a cancelled answer with done CANCELLED, its deltas adding up to the text kept', async () => {
  stub.tokenGap(100);
  const { sessionId, messageId } = await newAsk();
  const path = `/openai/sessions/${sessionId}/messages/${messageId}/stream`;
  const streaming = readStream(path);
  for (let i = 0; i < 200; i++) {
    const now = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
    if (now.body.status === 'PROCESSING' && now.body.content) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const cancelled = await c.post(`/openai/sessions/${sessionId}/messages/${messageId}/cancel`, undefined);
  expect(cancelled.body.status).toBe('CANCELLED');
  const streamed = await streaming;
  expect(JSON.parse(done(streamed.events)!.data!)).toMatchObject({ status: 'CANCELLED', content: cancelled.body.content });
  expect(text(streamed.events)).toBe(cancelled.body.content);
}, 30_000);

it('answers the usual JSON errors before a stream starts: another tenant 404, no token 401', async () => {
  const { sessionId, messageId } = await newAsk();
  const other = await api.token({ org: 'org_elsewhere', user: 'user_streams' });
  expect(await readStream(`/openai/sessions/${sessionId}/messages/${messageId}/stream`, { token: other })).toMatchObject({
    status: 404,
    body: { code: 'not_found' },
  });
  expect(await readStream(`/openai/sessions/${sessionId}/messages/${messageId}/stream`, { token: 'nope' })).toMatchObject({
    status: 401,
    body: { code: 'unauthorized' },
  });
  expect(await readStream(`/openai/sessions/${sessionId}/ctx/01ARZ3NDEKTSV4RRFFQ69G5FAV/stream`)).toMatchObject({ status: 404 });
  expect(await settledMessage(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED' });
}, 30_000);

it('stops reading the store once the client has left the stream', async () => {
  stub.tokenGap(250);
  const { sessionId, messageId } = await newAsk('A long one');
  const path = `/openai/sessions/${sessionId}/messages/${messageId}/stream`;
  const reads = () => (api.stack.dynamo.requestCounts.get('GetItem') ?? 0) + (api.stack.dynamo.requestCounts.get('Query') ?? 0);
  const first = await readStream(path, { stopAfter: (events) => deltas(events).length === 1 });
  expect(deltas(first.events)).toHaveLength(1);
  // The answer is still being written (its worker writes, and reads nothing while text flows).
  // The stream stops at its next delta (progress is written once a second, read twice a second).
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = reads();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  // An open stream would have read its item and progress four times in 2 s (three reads each).
  expect(reads() - before).toBeLessThan(3);
  expect((await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`)).body.status).toBe('PROCESSING');
  await c.post(`/openai/sessions/${sessionId}/messages/${messageId}/cancel`, undefined);
}, 30_000);

it('reads only the item while a GET waits on an answer being written, and answers with its text so far', async () => {
  stub.tokenGap(250);
  const { sessionId, messageId } = await newAsk('A long wait');
  const path = `/openai/sessions/${sessionId}/messages/${messageId}`;
  const reads = () => (api.stack.dynamo.requestCounts.get('GetItem') ?? 0) + (api.stack.dynamo.requestCounts.get('Query') ?? 0);
  for (let tries = 0; (await c.get(path)).body.content === ''; tries++) {
    expect(tries).toBeLessThan(200);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const before = reads();
  const waited = await c.get(`${path}?wait=2`);
  const used = reads() - before;
  expect(waited.body).toMatchObject({ status: 'PROCESSING', content: expect.stringMatching(/^t0 t1/) });
  // About 13 looks in 2 s (after 20, 40, 80, 160 ms, then every 250 ms), one GetItem each, and
  // the text so far once (two reads); reading the text at every look would take three times that.
  expect(used).toBeGreaterThanOrEqual(10);
  expect(used).toBeLessThanOrEqual(18);
  await c.post(`${path}/cancel`, undefined);
}, 30_000);
