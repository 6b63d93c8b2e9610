import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { localCredentials } from '../../bin/local/aws.js';
import { LOCAL_TABLE } from '../../bin/local/local-stack.js';
import { newId } from '../../shared/platform/ids.js';
import { createDb } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { client, startTestApi, type TestApi } from '../helpers/local-api.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';

/**
 * Asks, messages and context tasks over HTTP, end to end: the local gateway, the real SQS
 * emulator and pollers, the worker, and the real OpenAI SDK against a stub model.
 */
let api: TestApi;
let stub: StubOpenAI;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  Object.assign(process.env, {
    org_clinic_OPENAI_API_KEY: 'sk-clinic',
    org_clinic_OPENAI_BASE_URL: stub.url,
    org_law_OPENAI_API_KEY: 'sk-law',
    org_law_OPENAI_BASE_URL: stub.url,
    org_law_OPENAI_MODEL: 'gpt-4-turbo',
    org_order_OPENAI_API_KEY: 'sk-order',
    org_order_OPENAI_BASE_URL: stub.url,
    org_limited_OPENAI_API_KEY: 'sk-limited',
    org_limited_OPENAI_BASE_URL: stub.url,
    JOB_RETRY_BASE_SECONDS: '1',
    JOB_MAX_ATTEMPTS: '2',
  });
  api = await startTestApi();
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});
afterEach(() => stub.reset());

const as = async (org = 'org_clinic', user = 'user_doc', role?: string) => client(api.url, await api.token({ org, user, role }));
type Client = Awaited<ReturnType<typeof as>>;
const errorBody = (code: string) => ({ error: expect.stringMatching(/\S.*[.?]$/), code });

async function newSession(c: Client, body: Record<string, unknown> = {}): Promise<string> {
  const created = await c.post('/openai/sessions', body);
  expect(created.status).toBe(201);
  return created.body.session_id;
}

/** Polls like the guide's clients do, but every 25 ms, until the message leaves PENDING/PROCESSING. */
async function settled(c: Client, sessionId: string, messageId: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
    expect(answer.status).toBe(200);
    if (answer.body.status === 'COMPLETED' || answer.body.status === 'FAILED') return answer.body;
    if (Date.now() > deadline) throw new Error(`message ${messageId} still ${answer.body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function settledTask(c: Client, sessionId: string, ctxId: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}`);
    expect(answer.status).toBe(200);
    if (answer.body.status === 'done' || answer.body.status === 'error') return answer.body;
    if (Date.now() > deadline) throw new Error(`task ${ctxId} still ${answer.body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('asking', () => {
  it('answers 202 at once, stores the question, and the answer arrives as a COMPLETED message', async () => {
    const doc = await as();
    const sessionId = await newSession(doc, { system_prompt: 'You are Dr. AI.' });
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'I have a headache.' });
    expect(asked.status).toBe(202);
    expect(asked.body).toEqual({ message_id: expect.any(String), user_message_id: expect.any(String), status: 'PENDING' });
    expect(asked.body.user_message_id < asked.body.message_id).toBe(true);

    const question = await doc.get(`/openai/sessions/${sessionId}/messages/${asked.body.user_message_id}`);
    expect(question.body).toMatchObject({ role: 'user', content: 'I have a headache.', status: 'COMPLETED', session_id: sessionId });

    const answer = await settled(doc, sessionId, asked.body.message_id);
    expect(answer).toEqual({
      message_id: asked.body.message_id,
      session_id: sessionId,
      role: 'assistant',
      content: 'Answer to "I have a headache." (2 messages)',
      status: 'COMPLETED',
      model: 'gpt-4o',
      created_at: expect.any(String),
      completed_at: expect.any(String),
      usage: { prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number), total_tokens: expect.any(Number) },
      latency_ms: expect.any(Number),
      timings: { queue_ms: expect.any(Number), model_ms: expect.any(Number) },
    });
    // The latency splits into the wait for a worker and the model (the rest is the writes around them).
    expect(answer.timings.queue_ms + answer.timings.model_ms).toBeLessThanOrEqual(answer.latency_ms);
    expect(stub.completions()[0]!.body.messages).toEqual([
      { role: 'system', content: 'You are Dr. AI.' },
      { role: 'user', content: 'I have a headache.' },
    ]);
    expect(stub.completions()[0]!.apiKey).toBe('sk-clinic');

    // A poll is one read: the message carries its session's owner. Only reads are counted: the worker's
    // last writes (its organization's place, the usage counters) may still land after COMPLETED is visible.
    const counts = api.stack.dynamo.requestCounts;
    const reads = () => ['GetItem', 'Query', 'BatchGetItem', 'Scan'].reduce((sum, op) => sum + (counts.get(op) ?? 0), 0);
    const before = reads();
    expect((await doc.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).status).toBe(200);
    expect(reads() - before).toBe(1);

    const session = await doc.get(`/openai/sessions/${sessionId}`);
    expect(session.body.message_count).toBe(2);
    const listed = await doc.get('/openai/sessions?include_last=true&limit=100');
    const mine = listed.body.items.find((item: { session_id: string }) => item.session_id === sessionId);
    expect(mine.last_message).toMatchObject({ message_id: asked.body.message_id, status: 'COMPLETED' });
  });

  it('sends the stored conversation when no history is given, and exactly the given history when it is', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    process.env.AI_SYSTEM_PROMPT = 'You are a helpful AI assistant.';
    try {
      const first = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'one' });
      const firstAnswer = await settled(doc, sessionId, first.body.message_id);
      const second = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'two' });
      await settled(doc, sessionId, second.body.message_id);
      expect(stub.completions()[1]!.body.messages).toEqual([
        { role: 'system', content: 'You are a helpful AI assistant.' },
        { role: 'user', content: 'one' },
        { role: 'assistant', content: firstAnswer.content },
        { role: 'user', content: 'two' },
      ]);
      const given = [{ role: 'assistant', content: 'Hello, I am Dr. AI.' }];
      const third = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'three', history: given });
      await settled(doc, sessionId, third.body.message_id);
      expect(stub.completions()[2]!.body.messages).toEqual([
        { role: 'system', content: 'You are a helpful AI assistant.' },
        ...given,
        { role: 'user', content: 'three' },
      ]);
      const fourth = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'four', history: [] });
      await settled(doc, sessionId, fourth.body.message_id);
      expect(stub.completions()[3]!.body.messages).toHaveLength(2);
    } finally {
      delete process.env.AI_SYSTEM_PROMPT;
    }
  });

  it("uses the request's model, else the organization's, else gpt-4o", async () => {
    const lawyer = await as('org_law', 'user_lawyer');
    const sessionId = await newSession(lawyer);
    const byOrg = await lawyer.post(`/openai/sessions/${sessionId}/ask`, { message: 'a', history: [] });
    expect((await settled(lawyer, sessionId, byOrg.body.message_id)).model).toBe('gpt-4-turbo');
    const byRequest = await lawyer.post(`/openai/sessions/${sessionId}/ask`, { message: 'b', history: [], model: 'gpt-4o-mini' });
    expect((await settled(lawyer, sessionId, byRequest.body.message_id)).model).toBe('gpt-4o-mini');
    expect(stub.completions().map((request) => request.body.model)).toEqual(['gpt-4-turbo', 'gpt-4o-mini']);
  });

  it('keeps unicode exactly, to the model and back', async () => {
    const doc = await as();
    const sessionId = await newSession(doc, { system_prompt: 'Réponds en français 🇫🇷' });
    const text = 'Ich habe Kopfschmerzen 🤕 — 头痛 — صداع — e\u0301 \u{1F468}\u200D\u{1F469}\u200D\u{1F467} "quoted" \\ \n new line';
    stub.reply((body) => `Écho: ${body.messages.at(-1).content}`);
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: text });
    const answer = await settled(doc, sessionId, asked.body.message_id);
    expect(answer.content).toBe(`Écho: ${text}`);
    expect(stub.completions()[0]!.body.messages[0].content).toBe('Réponds en français 🇫🇷');
    expect((await doc.get(`/openai/sessions/${sessionId}/messages/${asked.body.user_message_id}`)).body.content).toBe(text);
  });

  it('answers the asks of each session in order, each seeing the answers before it, under 50 concurrent asks over 5 sessions', async () => {
    const user = await as('org_order', 'user_order');
    const sessions = await Promise.all(Array.from({ length: 5 }, (_, index) => newSession(user, { name: `s${index}` })));
    stub.reply((body) => `A(${body.messages.at(-1).content})`);
    stub.latency(5);
    const asks = await Promise.all(
      Array.from({ length: 50 }, async (_, index) => {
        const sessionId = sessions[index % 5]!;
        const asked = await user.post(`/openai/sessions/${sessionId}/ask`, { message: `q${index}` });
        expect(asked.status).toBe(202);
        return { sessionId, ...asked.body };
      }),
    );
    await Promise.all(asks.map((ask) => settled(user, ask.sessionId, ask.message_id, 60_000)));
    expect(stub.completions()).toHaveLength(50);
    for (const sessionId of sessions) {
      const { body } = await user.get(`/openai/sessions/${sessionId}/messages?order=asc&limit=100`);
      expect(body.items).toHaveLength(20);
      // Stored in id order: question, its answer, question, its answer...
      for (let turn = 0; turn < 10; turn++) {
        const question = body.items[2 * turn];
        const reply = body.items[2 * turn + 1];
        expect(question.role).toBe('user');
        expect(reply).toMatchObject({ role: 'assistant', status: 'COMPLETED', content: `A(${question.content})` });
        // The model saw every earlier turn of the session, with its answer.
        const request = stub.completions().find((candidate) => candidate.body.messages.at(-1).content === question.content)!;
        expect(request.body.messages.map((message: { content: string }) => message.content)).toEqual(
          body.items.slice(0, 2 * turn + 1).map((message: { content: string }) => message.content),
        );
      }
    }
  }, 90_000);
});

describe('failures end in FAILED with a sentence a person can act on', () => {
  it('fails at once when the organization has no key', async () => {
    const nobody = await as('org_nokey', 'user_x');
    const sessionId = await newSession(nobody);
    const asked = await nobody.post(`/openai/sessions/${sessionId}/ask`, { message: 'hello' });
    expect(asked.status).toBe(202);
    const answer = await settled(nobody, sessionId, asked.body.message_id);
    expect(answer).toMatchObject({
      status: 'FAILED',
      content: 'OpenAI API key not found for organization org_nokey',
      error: 'OpenAI API key not found for organization org_nokey',
    });
    expect(stub.requests).toHaveLength(0);
  });

  it.each([
    ['unauthorized', /refused the API key of organization org_clinic \(401\)/, 1],
    ['context_length_exceeded', /The model's context length was exceeded/, 1],
    ['insufficient_quota', /run out of quota/, 1],
  ] as const)('fails at once on %s, without retrying', async (kind, sentence, calls) => {
    const doc = await as();
    const sessionId = await newSession(doc);
    stub.fail({ fault: { kind }, times: 'always' });
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'hello' });
    const answer = await settled(doc, sessionId, asked.body.message_id);
    expect(answer.status).toBe('FAILED');
    expect(answer.content).toMatch(sentence);
    expect(answer.error).toBe(answer.content);
    expect(stub.requests).toHaveLength(calls);
  });

  it('rides out a passing 429 and still answers', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    stub.fail({ fault: { kind: 'rate_limit' }, times: 1 });
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'hello' });
    expect((await settled(doc, sessionId, asked.body.message_id)).status).toBe('COMPLETED');
    expect(stub.requests).toHaveLength(2);
  });

  it('retries a provider that keeps failing with backoff, then fails', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    stub.fail({ fault: { kind: 'server_error' }, times: 'always' });
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'hello' });
    const answer = await settled(doc, sessionId, asked.body.message_id, 30_000);
    expect(answer.status).toBe('FAILED');
    expect(answer.content).toMatch(/model provider had an error \(HTTP 500\), 2 times/);
    // Two tries (JOB_MAX_ATTEMPTS=2), each the SDK's first call and its two retries.
    expect(stub.requests).toHaveLength(6);
  }, 40_000);

  it('reports a failed task as error with the sentence', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    stub.fail({ fault: { kind: 'context_length_exceeded' }, times: 'always' });
    const started = await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 'summarize', history: [] });
    const task = await settledTask(doc, sessionId, started.body.ctx_id);
    expect(task).toMatchObject({ status: 'error', result: null, error: expect.stringMatching(/context length was exceeded/) });
  });
});

describe('context tasks', () => {
  it('runs a task with its own system prompt and history, and parses a JSON result', async () => {
    const doc = await as();
    const sessionId = await newSession(doc, { system_prompt: 'session prompt' });
    stub.reply(() => '```json\n{"risk_level": "Low", "follow_up_actions": ["rest"]}\n```');
    const started = await doc.post(`/openai/sessions/${sessionId}/ctx`, {
      task: 'Analyze these symptoms. Format as JSON.',
      history: [{ role: 'user', content: 'earlier' }],
      system_prompt: 'You are a medical data analyst.',
    });
    expect(started).toMatchObject({ status: 202, body: { ctx_id: expect.any(String), status: 'pending' } });
    const task = await settledTask(doc, sessionId, started.body.ctx_id);
    expect(task).toMatchObject({
      ctx_id: started.body.ctx_id,
      status: 'done',
      result: '```json\n{"risk_level": "Low", "follow_up_actions": ["rest"]}\n```',
      result_json: { risk_level: 'Low', follow_up_actions: ['rest'] },
      error: null,
      model: 'gpt-4o',
      usage: expect.objectContaining({ total_tokens: expect.any(Number) }),
    });
    expect(stub.completions()[0]!.body.messages).toEqual([
      { role: 'system', content: 'You are a medical data analyst.' },
      { role: 'user', content: 'earlier' },
      { role: 'user', content: 'Analyze these symptoms. Format as JSON.' },
    ]);
    // A task is not a message of the conversation.
    expect((await doc.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(0);
  });

  it('falls back to the session prompt, and leaves result_json out for plain text', async () => {
    const doc = await as();
    const sessionId = await newSession(doc, { system_prompt: 'session prompt' });
    const started = await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 'say hi' });
    const task = await settledTask(doc, sessionId, started.body.ctx_id);
    expect(task.status).toBe('done');
    expect(task).not.toHaveProperty('result_json');
    expect(stub.completions()[0]!.body.messages[0]).toEqual({ role: 'system', content: 'session prompt' });
  });
});

describe('messages', () => {
  it('adds, lists in both orders with paging, reads and deletes messages', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      const created = await doc.post(`/openai/sessions/${sessionId}/messages`, { role: index % 2 ? 'assistant' : 'user', content: `m${index}` });
      expect(created).toMatchObject({ status: 201, body: { status: 'COMPLETED', content: `m${index}`, session_id: sessionId } });
      ids.push(created.body.message_id);
    }
    const collect = async (order: string) => {
      const seen: string[] = [];
      let url = `/openai/sessions/${sessionId}/messages?limit=2&order=${order}`;
      for (;;) {
        const page = await doc.get(url);
        expect(page.status).toBe(200);
        seen.push(...page.body.items.map((message: { message_id: string }) => message.message_id));
        if (!page.body.has_more) return seen;
        url = `/openai/sessions/${sessionId}/messages?limit=2&order=${order}&after=${page.body.next}`;
      }
    };
    expect(await collect('asc')).toEqual(ids);
    expect(await collect('desc')).toEqual([...ids].reverse());
    expect((await doc.get(`/openai/sessions/${sessionId}/messages`)).body.items.map((m: { message_id: string }) => m.message_id)).toEqual(
      [...ids].reverse(),
    );

    expect(await doc.delete(`/openai/sessions/${sessionId}/messages/${ids[1]}`)).toMatchObject({ status: 200, body: { deleted: true, message_id: ids[1] } });
    expect(await doc.get(`/openai/sessions/${sessionId}/messages/${ids[1]}`)).toMatchObject({ status: 404, body: errorBody('not_found') });
    expect(await doc.delete(`/openai/sessions/${sessionId}/messages/${ids[1]}`)).toMatchObject({ status: 404 });
    expect((await doc.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(4);
  });

  it.each([
    ['a bad role', { role: 'system', content: 'x' }],
    ['empty content', { role: 'user', content: '' }],
    ['an unknown field', { role: 'user', content: 'x', extra: 1 }],
    ['content over 100,000 characters', { role: 'user', content: 'x'.repeat(100_001) }],
  ])('refuses %s', async (_name, body) => {
    const doc = await as();
    const sessionId = await newSession(doc);
    expect(await doc.post(`/openai/sessions/${sessionId}/messages`, body)).toMatchObject({ status: 400, body: errorBody('invalid_request') });
  });

  it.each([['limit=0'], ['limit=101'], ['order=up'], ['after=nope']])('refuses the list query %s', async (queryString) => {
    const doc = await as();
    const sessionId = await newSession(doc);
    expect(await doc.get(`/openai/sessions/${sessionId}/messages?${queryString}`)).toMatchObject({ status: 400 });
  });
});

describe('ask and task input and state', () => {
  it.each([
    ['no message', { history: [] }, 'Field "message" is required.'],
    ['an empty message', { message: '' }, 'Field "message" must not be empty.'],
    ['a message over the limit', { message: 'x'.repeat(100_001) }, 'Field "message" must be at most 100000 characters.'],
    ['a bad history role', { message: 'x', history: [{ role: 'system', content: 'x' }] }, 'Field "history.0.role" must be "user" or "assistant".'],
    ['history that is not a list', { message: 'x', history: 'earlier' }, 'Field "history" must be an array, not a string.'],
    ['too much history', { message: 'x', history: Array.from({ length: 201 }, () => ({ role: 'user', content: 'x' })) }, 'Field "history" must have at most 200 entries.'],
    ['a bad model name', { message: 'x', model: 'gpt 4o; drop' }, 'Field "model" must be a model name such as gpt-4o.'],
    ['an unknown field', { message: 'x', temperature: 0.2 }, 'Unknown field "temperature".'],
  ])('refuses an ask with %s', async (_name, body, sentence) => {
    const doc = await as();
    const sessionId = await newSession(doc);
    const answer = await doc.post(`/openai/sessions/${sessionId}/ask`, body);
    expect(answer).toMatchObject({ status: 400, body: { error: sentence, code: 'invalid_request' } });
    expect((await doc.get(`/openai/sessions/${sessionId}/messages`)).body.items).toEqual([]);
  });

  it('refuses asks, tasks and new messages on an ended session with 409, and still reads it', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    await doc.patch(`/openai/sessions/${sessionId}`, { end: true });
    expect(await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'x' })).toMatchObject({ status: 409, body: errorBody('session_ended') });
    expect(await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 'x' })).toMatchObject({ status: 409, body: errorBody('session_ended') });
    expect(await doc.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'x' })).toMatchObject({ status: 409 });
    expect(await doc.get(`/openai/sessions/${sessionId}/messages`)).toMatchObject({ status: 200, body: { items: [] } });
  });

  it('keeps other tenants out, and lets an admin read but not ask', async () => {
    const doc = await as('org_clinic', 'user_owner');
    const sessionId = await newSession(doc);
    const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'private' });
    const started = await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 'private' });
    await settled(doc, sessionId, asked.body.message_id);
    const base = `/openai/sessions/${sessionId}`;
    for (const other of [await as('org_clinic', 'user_other'), await as('org_law', 'user_owner', 'admin')]) {
      expect(await other.post(`${base}/ask`, { message: 'x' })).toMatchObject({ status: 404, body: errorBody('not_found') });
      expect(await other.post(`${base}/ctx`, { task: 'x' })).toMatchObject({ status: 404 });
      expect(await other.get(`${base}/messages`)).toMatchObject({ status: 404 });
      expect(await other.get(`${base}/messages/${asked.body.message_id}`)).toMatchObject({ status: 404 });
      expect(await other.delete(`${base}/messages/${asked.body.message_id}`)).toMatchObject({ status: 404 });
      expect(await other.get(`${base}/ctx/${started.body.ctx_id}`)).toMatchObject({ status: 404 });
    }
    const admin = await as('org_clinic', 'user_admin', 'admin');
    expect(await admin.get(`${base}/messages/${asked.body.message_id}`)).toMatchObject({ status: 200, body: { status: 'COMPLETED' } });
    expect(await admin.get(`${base}/ctx/${started.body.ctx_id}`)).toMatchObject({ status: 200 });
    expect(await admin.post(`${base}/ask`, { message: 'x' })).toMatchObject({ status: 403, body: errorBody('not_session_owner') });
    expect(await admin.delete(`${base}/messages/${asked.body.message_id}`)).toMatchObject({ status: 403 });
  });

  it('checks ownership through the session for a message stored without its owner', async () => {
    const doc = await as('org_clinic', 'user_legacy');
    const sessionId = await newSession(doc);
    const db = createDb(new DynamoDBClient({ endpoint: api.stack.dynamoEndpoint, ...localCredentials }), LOCAL_TABLE);
    const messageId = newId();
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: { ...keys.message('org_clinic', sessionId, messageId), message_id: messageId, session_id: sessionId, role: 'user', content: 'old', status: 'COMPLETED', created_at: new Date().toISOString() },
      }),
    );
    expect(await doc.get(`/openai/sessions/${sessionId}/messages/${messageId}`)).toMatchObject({ status: 200, body: { content: 'old' } });
    const other = await as('org_clinic', 'user_other');
    expect(await other.get(`/openai/sessions/${sessionId}/messages/${messageId}`)).toMatchObject({ status: 404 });
  });

  it('answers 404 for a message or task id of another session', async () => {
    const doc = await as();
    const first = await newSession(doc);
    const second = await newSession(doc);
    const added = await doc.post(`/openai/sessions/${first}/messages`, { role: 'user', content: 'x' });
    expect(await doc.get(`/openai/sessions/${second}/messages/${added.body.message_id}`)).toMatchObject({ status: 404 });
    expect(await doc.get(`/openai/sessions/${second}/ctx/${added.body.message_id}`)).toMatchObject({ status: 404 });
  });
});

describe('Idempotency-Key', () => {
  it('replays the first answer for the same key and body, and refuses the key for another body', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    const headers = { 'idempotency-key': 'ask-7f3a' };
    const first = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'once' }, headers);
    const again = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'once' }, headers);
    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 202, body: first.body });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'twice' }, headers);
    expect(other).toMatchObject({ status: 422, body: errorBody('idempotency_key_reused') });
    await settled(doc, sessionId, first.body.message_id);
    expect((await doc.get(`/openai/sessions/${sessionId}/messages`)).body.items).toHaveLength(2);
    expect(stub.completions().filter((request) => request.body.messages.at(-1).content === 'once')).toHaveLength(1);

    const task = await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 't' }, { 'idempotency-key': 'ctx-1' });
    expect(await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 't' }, { 'idempotency-key': 'ctx-1' })).toMatchObject({ status: 202, body: task.body });
  });

  it('gives one ask for many concurrent retries with one key', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'once' }, { 'idempotency-key': 'burst-1' })),
    );
    for (const answer of answers) expect([202, 409]).toContain(answer.status);
    const accepted = answers.filter((answer) => answer.status === 202);
    expect(new Set(accepted.map((answer) => answer.body.message_id)).size).toBe(1);
    for (const refused of answers.filter((answer) => answer.status === 409)) expect(refused.body.code).toBe('idempotency_in_progress');
    expect((await doc.get(`/openai/sessions/${sessionId}/messages`)).body.items).toHaveLength(2);
    // Answered once, before the next test (whose model calls this one's would otherwise count in).
    expect((await settled(doc, sessionId, accepted[0]!.body.message_id)).status).toBe('COMPLETED');
    expect(stub.completions().filter((request) => request.body.messages.at(-1).content === 'once')).toHaveLength(1);
  });

  it('does not keep an error: a refused ask can be retried with the same key', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    await doc.patch(`/openai/sessions/${sessionId}`, { end: true });
    expect(await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'x' }, { 'idempotency-key': 'k-err' })).toMatchObject({ status: 409 });
    const open = await newSession(doc);
    expect((await doc.post(`/openai/sessions/${open}/ask`, { message: 'x' }, { 'idempotency-key': 'k-err' })).status).toBe(202);
  });

  it('refuses a malformed key', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    expect(await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'x' }, { 'idempotency-key': 'x'.repeat(300) })).toMatchObject({
      status: 400,
    });
  });
});

describe('limits on starting work', () => {
  it('rate limits asks and tasks per organization with 429 and Retry-After', async () => {
    process.env.ORG_RATE_LIMIT_PER_MINUTE = '3';
    try {
      const limited = await as('org_limited', 'user_a');
      const other = await as('org_limited', 'user_b');
      const sessionId = await newSession(limited);
      const otherSession = await newSession(other);
      for (let index = 0; index < 2; index++) expect((await limited.post(`/openai/sessions/${sessionId}/ask`, { message: `${index}` })).status).toBe(202);
      expect((await other.post(`/openai/sessions/${otherSession}/ctx`, { task: 't' })).status).toBe(202);
      const refused = await limited.post(`/openai/sessions/${sessionId}/ask`, { message: 'one too many' });
      expect(refused).toMatchObject({ status: 429, body: errorBody('rate_limited') });
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refused.body.error).toContain('3 asks and tasks per minute');
      expect((await other.post(`/openai/sessions/${otherSession}/ctx`, { task: 't' })).status).toBe(429);
      // Another organization is not affected.
      const elsewhere = await as('org_elsewhere', 'user_c');
      expect((await elsewhere.post(`/openai/sessions/${await newSession(elsewhere)}/ask`, { message: 'x' })).status).toBe(202);
      // Nothing was stored for the refused ask.
      expect((await limited.get(`/openai/sessions/${sessionId}/messages?limit=100`)).body.items).toHaveLength(4);
    } finally {
      delete process.env.ORG_RATE_LIMIT_PER_MINUTE;
    }
  });

  it('answers 503 and leaves nothing behind when the job cannot be queued', async () => {
    const doc = await as();
    const sessionId = await newSession(doc);
    const askQueue = process.env.ASK_QUEUE_URL!;
    const ctxQueue = process.env.CTX_QUEUE_URL!;
    // A queue that does not exist: SQS answers, and refuses.
    process.env.ASK_QUEUE_URL = `${askQueue}-missing`;
    process.env.CTX_QUEUE_URL = `${ctxQueue}-missing`;
    try {
      const asked = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'lost?' });
      expect(asked).toMatchObject({ status: 503, body: errorBody('queue_unavailable') });
      expect(asked.headers.get('retry-after')).toBe('5');
      const task = await doc.post(`/openai/sessions/${sessionId}/ctx`, { task: 'lost?' });
      expect(task).toMatchObject({ status: 503, body: errorBody('queue_unavailable') });
    } finally {
      process.env.ASK_QUEUE_URL = askQueue;
      process.env.CTX_QUEUE_URL = ctxQueue;
    }
    expect((await doc.get(`/openai/sessions/${sessionId}/messages`)).body.items).toEqual([]);
    expect((await doc.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(0);
    const retried = await doc.post(`/openai/sessions/${sessionId}/ask`, { message: 'now' });
    expect((await settled(doc, sessionId, retried.body.message_id)).status).toBe('COMPLETED');
  });
});
