/**
 * The client library (client/src) against the local server over HTTP, with the stub model streaming
 * its answers: every call, waiting, streams, cancel, errors; and, through a proxy that injects what
 * no server does on demand, a stream cut mid-way and resumed, a 429 retried, and a retried ask that
 * is not asked twice.
 */
import { ApiError, createClient, type Client } from '@ai-chat/client';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { startHttpProxy } from '../helpers/http-proxy.js';
import { startTestApi, type TestApi } from '../helpers/local-api.js';

const ORG = 'org_client';
let api: TestApi;
let stub: StubOpenAI;
let token: string;
let client: Client;
const words = Array.from({ length: 24 }, (_, i) => `w${i}`).join(' ');

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({ env: { [`${ORG}_OPENAI_API_KEY`]: 'sk-client', [`${ORG}_OPENAI_BASE_URL`]: stub.url } });
  token = await api.token({ org: ORG, user: 'user_client' });
  client = createClient({ baseUrl: `${api.url}/openai`, token: async () => token });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
});
beforeEach(() => {
  stub.reset();
  stub.reply(() => words);
});

it('creates, lists page after page, renames, ends and deletes sessions', async () => {
  const created = await Promise.all(Array.from({ length: 5 }, (_, i) => client.sessions.create({ name: `client ${i}` })));
  const seen: string[] = [];
  for await (const session of client.sessions.iterate({ limit: 2 })) seen.push(session.session_id);
  expect(seen).toEqual(expect.arrayContaining(created.map((session) => session.session_id)));
  expect(new Set(seen).size).toBe(seen.length);
  const [first] = created;
  expect(await client.sessions.update(first!.session_id, { name: 'renamed' })).toMatchObject({ name: 'renamed' });
  expect((await client.sessions.end(first!.session_id)).session_end).toEqual(expect.any(String));
  expect(await client.sessions.get(first!.session_id)).toMatchObject({ name: 'renamed', session_end: expect.any(String) });
  expect(await client.sessions.delete(first!.session_id)).toEqual({ deleted: true, session_id: first!.session_id });
  const missing = await client.sessions.get(first!.session_id).catch((error: unknown) => error);
  expect(missing).toBeInstanceOf(ApiError);
  expect(missing).toMatchObject({ status: 404, code: 'not_found', requestId: expect.any(String), message: expect.stringMatching(/not found/i) });
});

it('adds, lists, reads and deletes messages', async () => {
  const { session_id } = await client.sessions.create({});
  const notes = [];
  for (let i = 0; i < 3; i++) notes.push(await client.messages.create(session_id, { role: 'user', content: `note ${i}` }));
  const ascending: string[] = [];
  for await (const message of client.messages.iterate(session_id, { limit: 2, order: 'asc' })) ascending.push(message.content);
  expect(ascending).toEqual(['note 0', 'note 1', 'note 2']);
  expect(await client.messages.get(session_id, notes[1]!.message_id)).toMatchObject({ content: 'note 1', status: 'COMPLETED' });
  expect(await client.messages.delete(session_id, notes[1]!.message_id)).toEqual({ deleted: true, message_id: notes[1]!.message_id });
  expect((await client.messages.list(session_id)).items.map((message) => message.content)).toEqual(['note 2', 'note 0']);
});

it('asks and waits for the answer', async () => {
  const { session_id } = await client.sessions.create({});
  const ask = await client.ask(session_id, { message: 'Wait for it' });
  expect(ask).toMatchObject({ status: 'PENDING', message_id: expect.any(String), user_message_id: expect.any(String) });
  const answer = await ask.wait();
  expect(answer).toMatchObject({ message_id: ask.message_id, status: 'COMPLETED', content: words, usage: expect.any(Object), timings: expect.any(Object) });
});

it('streams an answer as it is written, its pieces adding up to the final content', async () => {
  stub.tokenGap(30);
  const { session_id } = await client.sessions.create({});
  const ask = await client.ask(session_id, { message: 'Stream it' });
  const stream = ask.stream();
  const pieces: string[] = [];
  for await (const piece of stream) pieces.push(piece);
  expect(pieces.length).toBeGreaterThanOrEqual(2);
  expect(pieces.join('')).toBe(words);
  expect(await stream.final).toMatchObject({ status: 'COMPLETED', content: words });
});

it('resumes a stream cut mid-way with Last-Event-ID: nothing repeated, nothing lost', async () => {
  stub.tokenGap(40);
  let cut = false;
  const proxy = await startHttpProxy(api.url, (request, response, pass) => {
    if (!request.url?.endsWith('/stream') || cut) return pass();
    // The first stream: its first delta goes through, then the connection drops.
    pass((answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      let sent = '';
      answer.on('data', (chunk: Buffer) => {
        if (cut) return;
        sent += chunk.toString();
        // Through the end of the first whole delta event, and not a byte more.
        const delta = sent.indexOf('event: delta');
        const end = delta < 0 ? -1 : sent.indexOf('\n\n', delta);
        if (end < 0) return void response.write(chunk);
        cut = true;
        response.write(sent.slice(sent.length - chunk.length, end + 2), () => {
          answer.destroy();
          response.destroy();
        });
      });
    });
  });
  try {
    const viaProxy = createClient({ baseUrl: `${proxy.url}/openai`, token });
    const { session_id } = await viaProxy.sessions.create({});
    const ask = await viaProxy.ask(session_id, { message: 'Cut me off' });
    const pieces: string[] = [];
    const stream = ask.stream();
    for await (const piece of stream) pieces.push(piece);
    expect(cut).toBe(true);
    expect(pieces.join('')).toBe(words);
    expect(await stream.final).toMatchObject({ status: 'COMPLETED', content: words });
    const streams = proxy.seen.filter((request) => request.path.endsWith('/stream'));
    expect(streams.length).toBeGreaterThanOrEqual(2);
    expect(streams[0]!.headers['last-event-id']).toBeUndefined();
    expect(streams[1]!.headers['last-event-id']).toMatch(/^\d+\.[0-9a-z]+$/);
  } finally {
    await proxy.close();
  }
});

it('retries a request answered 429, after the Retry-After it was given', async () => {
  let refused = false;
  const proxy = await startHttpProxy(api.url, (request, response, pass) => {
    if (refused || request.method !== 'GET') return pass();
    refused = true;
    response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1', 'x-request-id': 'req-429' });
    response.end(JSON.stringify({ error: 'Your organization has reached its limit. Try again in 1 seconds.', code: 'rate_limited' }));
  });
  try {
    const viaProxy = createClient({ baseUrl: `${proxy.url}/openai`, token });
    const started = Date.now();
    const page = await viaProxy.sessions.list({ limit: 1 });
    expect(page.items.length).toBeLessThanOrEqual(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(proxy.seen.filter((request) => request.method === 'GET')).toHaveLength(2);
    // Without retries left, the 429 reaches the caller as an ApiError with its Retry-After.
    refused = false;
    const error = await createClient({ baseUrl: `${proxy.url}/openai`, token, retries: 0 }).sessions.list().catch((failure: unknown) => failure);
    expect(error).toMatchObject({ status: 429, code: 'rate_limited', retryAfter: 1, requestId: 'req-429' });
  } finally {
    await proxy.close();
  }
});

it('does not ask twice when the answer to its ask was lost and the ask is sent again', async () => {
  let lost = false;
  const proxy = await startHttpProxy(api.url, (request, response, pass) => {
    if (lost || !request.url?.endsWith('/ask')) return pass();
    lost = true;
    // The server takes the ask; its answer never reaches the client.
    pass((answer) => {
      answer.resume();
      answer.on('end', () => {
        response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '0' });
        response.end(JSON.stringify({ error: 'The service is busy right now.', code: 'service_unavailable' }));
      });
    });
  });
  try {
    const viaProxy = createClient({ baseUrl: `${proxy.url}/openai`, token });
    const { session_id } = await viaProxy.sessions.create({});
    const ask = await viaProxy.ask(session_id, { message: 'Only once' });
    const asks = proxy.seen.filter((request) => request.path.endsWith('/ask'));
    expect(asks).toHaveLength(2);
    expect(asks[0]!.headers['idempotency-key']).toEqual(expect.any(String));
    expect(asks[1]!.headers['idempotency-key']).toBe(asks[0]!.headers['idempotency-key']);
    await ask.wait();
    expect((await viaProxy.sessions.get(session_id)).message_count).toBe(2);
    expect(stub.requests.filter((call) => call.body.messages.at(-1).content === 'Only once')).toHaveLength(1);
  } finally {
    await proxy.close();
  }
});

it('cancels an answer being written, and runs a task whose JSON result comes parsed', async () => {
  stub.tokenGap(100);
  const { session_id } = await client.sessions.create({});
  const ask = await client.ask(session_id, { message: 'Long one' });
  for (let i = 0; i < 100; i++) {
    const now = await client.messages.get(session_id, ask.message_id);
    if (now.status === 'PROCESSING' && now.content) break;
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  const cancelled = await ask.cancel();
  expect(cancelled).toMatchObject({ status: 'CANCELLED', error: 'Cancelled by the user.' });
  expect(await ask.wait()).toEqual(cancelled);

  stub.tokenGap(0);
  stub.reply(() => '{"diagnosis": "none", "confidence": 0.9}');
  const task = await client.tasks.create(session_id, { task: 'Answer as JSON' });
  expect(task).toMatchObject({ status: 'pending', ctx_id: expect.any(String) });
  expect(await task.wait()).toMatchObject({ status: 'done', result_json: { diagnosis: 'none', confidence: 0.9 } });
});

it('refuses without a token, with the API’s sentence', async () => {
  const error = await createClient({ baseUrl: `${api.url}/openai`, token: () => undefined }).sessions.list().catch((failure: unknown) => failure);
  expect(error).toBeInstanceOf(ApiError);
  expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
  const refused = await createClient({ baseUrl: `${api.url}/openai`, token: 'not-a-token' }).sessions.list().catch((failure: unknown) => failure);
  expect(refused).toMatchObject({ status: 401, code: 'unauthorized', message: 'A valid bearer token is required.' });
});

it('erases its own user’s data, and is refused another’s as a member', async () => {
  const mine = createClient({ baseUrl: `${api.url}/openai`, token: () => api.token({ org: ORG, user: 'user_leaving' }) });
  const session = await mine.sessions.create({ name: 'to erase' });
  expect(await mine.users.erase('me')).toEqual({ status: 'accepted' });
  expect(await mine.sessions.get(session.session_id).catch((error: unknown) => error)).toMatchObject({ status: 404 });
  expect(await mine.users.erase('user_client').catch((error: unknown) => error)).toMatchObject({ status: 403, code: 'admin_only' });
});
