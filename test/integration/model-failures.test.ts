/**
 * How a model call's failure is sorted (`classifyModelFailure`), fed with the real errors the
 * `openai` SDK throws against the stub, and `askModel` itself against the stub.
 */
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { askModel } from '../../shared/llm/chat-model.js';
import { classifyModelFailure, type ModelFailure } from '../../shared/llm/failures.js';
import type { ChatMessage } from '../../shared/llm/prompt.js';
import { jestSafeFetch, startStubOpenAI, type Fault, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { rejectionOf as errorOf } from '../helpers/assertions.js';

const ORG = 'org_medical_clinic';
const MODEL = 'gpt-4o-mini';
const messages: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'What is the capital of France?' },
];

let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
});
afterEach(() => stub.reset());
afterAll(async () => {
  await stub.close();
});

function client(options: { maxRetries?: number; timeout?: number } = {}): OpenAI {
  return new OpenAI({
    apiKey: 'sk-clinic',
    baseURL: stub.url,
    maxRetries: options.maxRetries ?? 0,
    timeout: options.timeout ?? 5000,
    fetch: jestSafeFetch, // else timeouts surface as plain APIConnectionError under jest
  });
}

/** The real SDK error for one request answered with `fault`, classified. */
async function classified(fault: Fault, options: { model?: string; timeout?: number } = {}): Promise<{ error: unknown; failure: ModelFailure }> {
  stub.fail({ fault });
  const model = options.model ?? MODEL;
  const error = await errorOf(client({ timeout: options.timeout }).chat.completions.create({ model, messages }));
  return { error, failure: classifyModelFailure(error, ORG, model) };
}

describe('classifyModelFailure, with real SDK errors', () => {
  it('429 rate limit: passing', async () => {
    const { error, failure } = await classified({ kind: 'rate_limit' });
    expect(error).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect(failure).toEqual({ kind: 'passing', sentence: 'The model provider is rate limiting this organization (429).' });
  });

  it('500 and 503: passing, naming the status', async () => {
    const { error, failure } = await classified({ kind: 'server_error' });
    expect(error).toMatchObject({ status: 500 });
    expect(failure).toEqual({ kind: 'passing', sentence: 'The model provider had an error (HTTP 500).' });
    const overloaded = await classified({ kind: 'status', status: 503, message: 'The engine is currently overloaded.' });
    expect(overloaded.failure).toEqual({ kind: 'passing', sentence: 'The model provider had an error (HTTP 503).' });
  });

  it('408 and 409: passing', async () => {
    expect((await classified({ kind: 'status', status: 408, message: 'Request timed out.' })).failure.kind).toBe('passing');
    expect((await classified({ kind: 'status', status: 409, message: 'Conflict.' })).failure.kind).toBe('passing');
  });

  it('401: key_refused, naming the org', async () => {
    const { error, failure } = await classified({ kind: 'unauthorized' });
    expect(error).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect(failure.kind).toBe('key_refused');
    expect(failure.sentence).toBe(`The model provider refused the API key of organization ${ORG} (401). Set a valid key.`);
  });

  it("context_length_exceeded: permanent, the model's context length was exceeded", async () => {
    const { error, failure } = await classified({ kind: 'context_length_exceeded' });
    expect(error).toMatchObject({ status: 400, code: 'context_length_exceeded' });
    expect(failure.kind).toBe('permanent');
    expect(failure.sentence).toMatch(/^The model's context length was exceeded\./);
  });

  it('a context overflow told only in words (OpenAI-compatible servers): permanent, context length', async () => {
    const { failure } = await classified({
      kind: 'status',
      status: 400,
      message: "This model's maximum context length is 8192 tokens, however you requested 9000 tokens.",
    });
    expect(failure.kind).toBe('permanent');
    expect(failure.sentence).toMatch(/^The model's context length was exceeded\./);
  });

  it('insufficient_quota (a 429): permanent, naming the org and its quota', async () => {
    const { error, failure } = await classified({ kind: 'insufficient_quota' });
    expect(error).toMatchObject({ status: 429, code: 'insufficient_quota' });
    expect(failure.kind).toBe('permanent');
    expect(failure.sentence).toContain(ORG);
    expect(failure.sentence).toMatch(/quota/);
  });

  it('404: permanent, naming the model', async () => {
    const { error, failure } = await classified(
      { kind: 'status', status: 404, code: 'model_not_found', message: 'The model `gpt-9-ultra` does not exist or you do not have access to it.' },
      { model: 'gpt-9-ultra' },
    );
    expect(error).toMatchObject({ status: 404 });
    expect(failure).toEqual({
      kind: 'permanent',
      sentence: 'The model "gpt-9-ultra" was not found at the model provider (404). Check the model name.',
    });
  });

  it('403: permanent, naming the org and the model', async () => {
    const { failure } = await classified({ kind: 'status', status: 403, message: 'Project does not have access to model gpt-4o.' }, { model: 'gpt-4o' });
    expect(failure.kind).toBe('permanent');
    expect(failure.sentence).toContain(ORG);
    expect(failure.sentence).toContain('"gpt-4o"');
  });

  it('other 4xx: permanent, quoting the provider’s own message on one line', async () => {
    const { error, failure } = await classified({ kind: 'status', status: 422, message: "Invalid value for 'temperature': must be at most 2" });
    expect(error).toMatchObject({ status: 422 });
    expect(failure).toEqual({
      kind: 'permanent',
      sentence: "The model provider refused the request (HTTP 422): Invalid value for 'temperature': must be at most 2.",
    });
    const long = await classified({ kind: 'status', status: 400, message: `Bad\n\n  request ${'very '.repeat(100)}long.` });
    expect(long.failure.kind).toBe('permanent');
    expect(long.failure.sentence).toMatch(/^The model provider refused the request \(HTTP 400\): Bad request (very ?)+\.\.\.$/);
    expect(long.failure.sentence.length).toBeLessThan(400);
  });

  it('a timeout (slow answer past the SDK timeout): passing, did not answer in time', async () => {
    const { error, failure } = await classified({ kind: 'slow', delayMs: 3000 }, { timeout: 200 });
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect(failure).toEqual({ kind: 'passing', sentence: 'The model did not answer in time.' });
  });

  it('an abort through AbortSignal.timeout: passing, did not answer in time', async () => {
    stub.fail({ fault: { kind: 'slow', delayMs: 3000 } });
    const started = Date.now();
    const error = await errorOf(client({ maxRetries: 2 }).chat.completions.create({ model: MODEL, messages }, { signal: AbortSignal.timeout(200) }));
    // Given up before the stub's 3-second answer came, and not tried again.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(stub.requests).toHaveLength(1);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(classifyModelFailure(error, ORG, MODEL)).toEqual({ kind: 'passing', sentence: 'The model did not answer in time.' });
  });

  it('a dropped connection: passing, the provider could not be reached', async () => {
    const { error, failure } = await classified({ kind: 'drop' });
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(error).not.toBeInstanceOf(APIConnectionTimeoutError);
    expect(failure).toEqual({ kind: 'passing', sentence: 'The model provider could not be reached.' });
  });

  it('a provider that is not listening at all: passing, could not be reached', async () => {
    const closed = await startStubOpenAI();
    const url = closed.url;
    await closed.close();
    const error = await errorOf(
      new OpenAI({ apiKey: 'sk', baseURL: url, maxRetries: 0, fetch: jestSafeFetch }).chat.completions.create({ model: MODEL, messages }),
    );
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(classifyModelFailure(error, ORG, MODEL)).toEqual({ kind: 'passing', sentence: 'The model provider could not be reached.' });
  });

  it('anything that is not an SDK error: passing, in words, without the error’s class', () => {
    expect(classifyModelFailure(new TypeError('x is undefined'), ORG, MODEL)).toEqual({
      kind: 'passing',
      sentence: 'The model call failed unexpectedly.',
    });
    expect(classifyModelFailure(undefined, ORG, MODEL).kind).toBe('passing');
    expect(classifyModelFailure(new APIError(undefined, undefined, 'no status', undefined), ORG, MODEL).kind).toBe('passing');
  });
});

describe('askModel against the stub', () => {
  const settings = () => ({ apiKey: 'sk-clinic', baseUrl: stub.url });

  it('answers with the content, the model and the usage, asking for a stream with its usage', async () => {
    const pieces: string[] = [];
    const answer = await askModel(settings(), MODEL, messages, 5000, { onText: (text) => pieces.push(text) });
    const content = 'Answer to "What is the capital of France?" (2 messages)';
    const prompt = Math.ceil(('Be brief.' + 'What is the capital of France?').length / 4);
    const reply = Math.ceil(content.length / 4);
    expect(answer).toEqual({
      content,
      model: MODEL,
      usage: { prompt_tokens: prompt, completion_tokens: reply, total_tokens: prompt + reply },
    });
    expect(stub.requests).toEqual([
      expect.objectContaining({
        apiKey: 'sk-clinic',
        path: '/v1/chat/completions',
        body: { model: MODEL, messages, stream: true, stream_options: { include_usage: true } },
      }),
    ]);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe(content);
  });

  it('hands over the text as the model streams it, and stops the model when aborted', async () => {
    stub.tokenGap(100);
    stub.reply(() => 'one two three four five six seven eight nine ten');
    const stop = new AbortController();
    const seen: Array<{ text: string; at: number }> = [];
    const call = askModel(settings(), MODEL, messages, 10_000, {
      signal: stop.signal,
      onText: (text) => {
        seen.push({ text, at: Date.now() });
        if (seen.length === 3) stop.abort();
      },
    });
    const error = await errorOf(call);
    expect(error).toBeInstanceOf(APIUserAbortError);
    expect(seen.map((piece) => piece.text).join('')).toBe('one two three ');
    // The stub saw the connection closed, well before the answer would have ended.
    for (let i = 0; i < 50 && stub.requests[0]!.hungUpAt === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(stub.requests[0]!.hungUpAt! - seen[2]!.at).toBeLessThan(2000);
    expect(stub.tokenTimes.get(stub.requests[0]!)!.length).toBeLessThan(10);
  });

  it('refuses a body that is not an event stream as unreadable', async () => {
    stub.fail({ fault: { kind: 'answer', body: '<html>oops</html>' } });
    const error = await errorOf(askModel(settings(), MODEL, messages, 5000));
    expect(error).toMatchObject({ name: 'UnusableAnswer', reason: 'unreadable' });
  });

  it('rides out a 429 and a 500 through the SDK’s own retries', async () => {
    stub.fail({ fault: { kind: 'rate_limit' } });
    stub.fail({ fault: { kind: 'status', status: 500, retryAfterSeconds: 0 } });
    await expect(askModel(settings(), MODEL, messages, 5000)).resolves.toMatchObject({ model: MODEL });
    expect(stub.requests).toHaveLength(3);
  });

  it('gives up within about timeoutMs on an always-slow model, whatever the retries', async () => {
    stub.fail({ fault: { kind: 'slow', delayMs: 10_000 }, times: 'always' });
    const timeoutMs = 800;
    const started = Date.now();
    const error = await errorOf(askModel(settings(), MODEL, messages, timeoutMs));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    // Given up long before the slow model's 10 s, whatever the retries.
    expect(elapsed).toBeLessThan(10_000);
    // Without jestSafeFetch, under jest the timeout may surface as either of these.
    expect(error instanceof APIUserAbortError || error instanceof APIConnectionError).toBe(true);
    expect(classifyModelFailure(error, ORG, MODEL)).toEqual({ kind: 'passing', sentence: 'The model did not answer in time.' });
  });

  it('bounds all tries together: slow 500s that the SDK would retry for seconds end at timeoutMs', async () => {
    // Each try takes 700 ms and fails 500; three tries plus backoff would take well over 2 s.
    stub.latency(700);
    stub.fail({ fault: { kind: 'server_error' }, times: 'always' });
    const timeoutMs = 1000;
    const started = Date.now();
    const error = await errorOf(askModel(settings(), MODEL, messages, timeoutMs));
    // Fewer tries than the SDK's three: the signal ended them together.
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(stub.requests.length).toBeLessThan(3);
    expect(classifyModelFailure(error, ORG, MODEL).kind).toBe('passing');
  });

  it('surfaces a refused key as key_refused, without retrying it', async () => {
    stub.fail({ fault: { kind: 'unauthorized' }, times: 'always' });
    const error = await errorOf(askModel(settings(), MODEL, messages, 5000));
    expect(classifyModelFailure(error, ORG, MODEL).kind).toBe('key_refused');
    expect(stub.requests).toHaveLength(1);
  });
});
