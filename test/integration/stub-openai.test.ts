/**
 * The stub OpenAI server, driven through the real `openai` SDK: JSON and streamed completions, and
 * every fault kind surfacing as the SDK error class (status, code, retries) production code would see.
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { jestSafeFetch, startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { rejectionOf as errorOf } from '../helpers/assertions.js';

let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
});
afterEach(() => stub.reset());
afterAll(async () => {
  await stub.close();
});

function client(options: { apiKey?: string; maxRetries?: number; timeout?: number } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? 'sk-test',
    baseURL: stub.url,
    maxRetries: options.maxRetries ?? 0,
    timeout: options.timeout ?? 5000,
    fetch: jestSafeFetch, // else timeouts surface as plain APIConnectionError under jest; see its TSDoc
  });
}

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'What is the capital of France?' },
];

test('JSON completion: content, model echo, usage', async () => {
  const completion = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
  const content = 'Answer to "What is the capital of France?" (2 messages)';
  expect(completion.object).toBe('chat.completion');
  expect(completion.id).toMatch(/^chatcmpl-/);
  expect(completion.model).toBe('gpt-4o-mini');
  expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content });
  expect(completion.choices[0]?.finish_reason).toBe('stop');
  const prompt = Math.ceil(('Be brief.' + 'What is the capital of France?').length / 4);
  const reply = Math.ceil(content.length / 4);
  expect(completion.usage).toEqual({ prompt_tokens: prompt, completion_tokens: reply, total_tokens: prompt + reply });
  expect(stub.requests).toHaveLength(1);
  expect(stub.requests[0]).toMatchObject({ apiKey: 'sk-test', path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages } });
  expect(stub.completions()).toEqual(stub.requests);
});

test('streaming: deltas join to the full reply, usage chunk only when asked', async () => {
  stub.reply((body) => `Paris, said ${body.model}, is the capital.`);
  const stream = await client().chat.completions.create({
    model: 'gpt-4.1',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  const roles: string[] = [];
  const finishes: string[] = [];
  let contentChunks = 0;
  let usage: OpenAI.CompletionUsage | null | undefined;
  for await (const chunk of stream) {
    expect(chunk.object).toBe('chat.completion.chunk');
    expect(chunk.model).toBe('gpt-4.1');
    const choice = chunk.choices[0];
    if (choice?.delta.role) roles.push(choice.delta.role);
    if (choice?.delta.content) (text += choice.delta.content), contentChunks++;
    if (choice?.finish_reason) finishes.push(choice.finish_reason);
    if (chunk.usage) usage = chunk.usage;
  }
  expect(text).toBe('Paris, said gpt-4.1, is the capital.');
  expect(contentChunks).toBeGreaterThan(1);
  expect(roles).toEqual(['assistant']);
  expect(finishes).toEqual(['stop']);
  expect(usage?.completion_tokens).toBe(Math.ceil(text.length / 4));
  expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));

  const plain = await client().chat.completions.create({ model: 'gpt-4.1', messages, stream: true });
  let sawUsage = false;
  text = '';
  for await (const chunk of plain) {
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) sawUsage = true;
  }
  expect(text).toBe('Paris, said gpt-4.1, is the capital.');
  expect(sawUsage).toBe(false);
  expect(stub.completions()).toHaveLength(2);
});

test('429 once, then success with maxRetries 2', async () => {
  stub.fail({ fault: { kind: 'rate_limit' } });
  const completion = await client({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o-mini', messages });
  expect(completion.choices[0]?.message.content).toContain('capital of France');
  expect(stub.requests).toHaveLength(2);
  expect(stub.completions()).toEqual([stub.requests[1]]);
});

test('500 always: InternalServerError after 1 + maxRetries requests', async () => {
  stub.fail({ fault: { kind: 'server_error' }, times: 'always' });
  const err = await errorOf(client({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(InternalServerError);
  expect(err.status).toBe(500);
  expect(err.type).toBe('server_error');
  expect(stub.requests).toHaveLength(3);
  expect(stub.completions()).toHaveLength(0);
});

test('unauthorized: AuthenticationError, code invalid_api_key, no retry', async () => {
  stub.fail({ fault: { kind: 'unauthorized' } });
  const err = await errorOf(client({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(AuthenticationError);
  expect(err.status).toBe(401);
  expect(err.code).toBe('invalid_api_key');
  expect(stub.requests).toHaveLength(1);
});

test('context_length_exceeded: BadRequestError with its code', async () => {
  stub.fail({ fault: { kind: 'context_length_exceeded' } });
  const err = await errorOf(client({ maxRetries: 2 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(BadRequestError);
  expect(err.status).toBe(400);
  expect(err.code).toBe('context_length_exceeded');
  expect(err.type).toBe('invalid_request_error');
  expect(err.message).toMatch(/maximum context length/);
  expect(stub.requests).toHaveLength(1);
});

test('insufficient_quota: 429 with code insufficient_quota (the SDK retries 429s)', async () => {
  stub.fail({ fault: { kind: 'insufficient_quota' }, times: 'always' });
  const err = await errorOf(client({ maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(RateLimitError);
  expect(err.status).toBe(429);
  expect(err.code).toBe('insufficient_quota');
  expect(err.type).toBe('insufficient_quota');
  expect(stub.requests).toHaveLength(1);

  // Like any 429, the SDK retries it (OpenAI sends no x-should-retry: false), though it cannot succeed.
  const retried = await errorOf(client({ maxRetries: 1 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(retried).toMatchObject({ status: 429, code: 'insufficient_quota' });
  expect(stub.requests).toHaveLength(3);
});

test('slow answer past the SDK timeout: APIConnectionTimeoutError', async () => {
  stub.fail({ fault: { kind: 'slow', delayMs: 2000 } });
  const err = await errorOf(client({ timeout: 200 }).chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(APIConnectionTimeoutError);
  expect(stub.completions()).toHaveLength(0);

  // Within the timeout, a slow answer is a normal answer.
  stub.fail({ fault: { kind: 'slow', delayMs: 100 } });
  const started = Date.now();
  await client({ timeout: 2000 }).chat.completions.create({ model: 'gpt-4o-mini', messages });
  expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  expect(stub.completions()).toHaveLength(1);
});

test('drop: APIConnectionError', async () => {
  stub.fail({ fault: { kind: 'drop' } });
  const err = await errorOf(client().chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toBeInstanceOf(APIConnectionError);
  expect(err).not.toBeInstanceOf(APIConnectionTimeoutError);
  expect(stub.requests).toHaveLength(1);
  expect(stub.completions()).toHaveLength(0);
});

test('fault rules scoped by apiKey affect only that key; rules are used in order', async () => {
  stub.fail({ fault: { kind: 'unauthorized' }, apiKey: 'sk-tenant-a', times: 2 });
  stub.fail({ fault: { kind: 'context_length_exceeded' } });
  const a = client({ apiKey: 'sk-tenant-a' });
  const b = client({ apiKey: 'sk-tenant-b' });

  expect(await errorOf(b.chat.completions.create({ model: 'm', messages }))).toBeInstanceOf(BadRequestError);
  await expect(b.chat.completions.create({ model: 'm', messages })).resolves.toBeDefined();
  expect(await errorOf(a.chat.completions.create({ model: 'm', messages }))).toBeInstanceOf(AuthenticationError);
  expect(await errorOf(a.chat.completions.create({ model: 'm', messages }))).toBeInstanceOf(AuthenticationError);
  await expect(a.chat.completions.create({ model: 'm', messages })).resolves.toBeDefined();

  expect(stub.requests.map((r) => r.apiKey)).toEqual(['sk-tenant-b', 'sk-tenant-b', 'sk-tenant-a', 'sk-tenant-a', 'sk-tenant-a']);
  expect(stub.completions().map((r) => r.apiKey)).toEqual(['sk-tenant-b', 'sk-tenant-a']);
});

test('missing key: 401 in OpenAI error shape', async () => {
  // The SDK refuses to send without a key, so this one goes through plain fetch.
  const response = await fetch(`${stub.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
  });
  expect(response.status).toBe(401);
  const body = await response.json();
  expect(body).toEqual({ error: { message: expect.stringMatching(/didn't provide an API key/), type: 'invalid_request_error', param: null, code: null } });
  expect(stub.requests).toEqual([expect.objectContaining({ apiKey: undefined, path: '/v1/chat/completions' })]);
  expect(stub.completions()).toHaveLength(0);
});

test('any other path: 404 NotFoundError', async () => {
  const err = await errorOf(client().models.list());
  expect(err).toBeInstanceOf(NotFoundError);
  expect(err.status).toBe(404);
  expect(err.type).toBe('invalid_request_error');
  expect(stub.requests[0]?.path).toBe('/v1/models');
});

test('status fault with code and retry-after; latency; reset', async () => {
  stub.fail({ fault: { kind: 'status', status: 503, code: 'overloaded', message: 'Try later', retryAfterSeconds: 0 } });
  stub.latency(50);
  const started = Date.now();
  const completion = await client({ maxRetries: 1 }).chat.completions.create({ model: 'gpt-4o-mini', messages });
  expect(completion.choices[0]?.message.content).toContain('capital');
  expect(Date.now() - started).toBeGreaterThanOrEqual(90); // two answers, 50 ms each
  expect(stub.requests).toHaveLength(2);

  stub.fail({ fault: { kind: 'status', status: 503, code: 'overloaded', message: 'Try later' } });
  const err = await errorOf(client().chat.completions.create({ model: 'gpt-4o-mini', messages }));
  expect(err).toMatchObject({ status: 503, code: 'overloaded', type: 'server_error' });
  expect(err.message).toBe('503 Try later');

  stub.reply(() => 'custom');
  stub.fail({ fault: { kind: 'server_error' }, times: 'always' });
  stub.reset();
  expect(stub.requests).toHaveLength(0);
  const after = await client().chat.completions.create({ model: 'gpt-4o-mini', messages });
  expect(after.choices[0]?.message.content).toContain('(2 messages)');
  expect(stub.completions()).toHaveLength(1);
});
