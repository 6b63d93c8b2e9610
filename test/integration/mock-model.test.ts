/**
 * The mock model (npm start -- --mock-model): organizations without a key of their own are answered
 * by model "mock", which streams a deterministic reply word by word and shows, on markers, what a
 * provider does: failures, flakiness, slowness, long answers to stop, JSON for tasks.
 */
import { mockReply } from '../../bin/local/mock-model.js';
import { serverSentEvents } from '../../bin/local/http-client.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let own: StubOpenAI;
let c: ReturnType<typeof client>;

beforeAll(async () => {
  own = await startStubOpenAI();
  api = await startTestApi({
    mockModel: { tokenMs: 5 },
    env: { org_keyed_OPENAI_API_KEY: 'sk-keyed', org_keyed_OPENAI_BASE_URL: own.url, JOB_RETRY_BASE_SECONDS: '1' },
  });
  c = client(api.url, await api.token({ org: 'org_nokey', user: 'user_mock' }));
}, 30_000);
afterAll(async () => {
  await api?.close();
  await own?.close();
});

const newSession = async () => (await c.post('/openai/sessions', {})).body.session_id as string;
const ask = async (sessionId: string, message: string) => (await c.post(`/openai/sessions/${sessionId}/ask`, { message })).body.message_id as string;

it('answers an organization without a key as model "mock", word by word, the same reply for the same question', async () => {
  const sessionId = await newSession();
  const messageId = await ask(sessionId, 'Hello mock [gap:30]');
  const response = await fetch(`${api.url}/openai/sessions/${sessionId}/messages/${messageId}/stream`, { headers: { authorization: `Bearer ${await api.token({ org: 'org_nokey', user: 'user_mock' })}` } });
  const deltas: string[] = [];
  for await (const event of serverSentEvents(response.body!)) {
    if (event.event === 'delta') deltas.push(JSON.parse(event.data!).content);
    if (event.event === 'done') break;
  }
  const expected = mockReply({ messages: [{ role: 'user', content: 'Hello mock [gap:30]' }] });
  expect(expected).toMatch(/^You said: "Hello mock" \(with 0 messages before it\)\. /);
  // The system prompt is not counted as a turn.
  expect(mockReply({ messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello mock [gap:30]' }] })).toBe(expected);
  expect(deltas.join('')).toBe(expected);
  expect(deltas.length).toBeGreaterThan(1);
  expect(await settledMessage(c, sessionId, messageId)).toMatchObject({ status: 'COMPLETED', model: 'mock', content: expected, usage: expect.any(Object) });
});

it('shows a provider’s refusal, a flaky provider and a long answer to stop, on markers', async () => {
  const sessionId = await newSession();
  const refused = await ask(sessionId, 'Key please [fail:401]');
  expect(await settledMessage(c, sessionId, refused)).toMatchObject({ status: 'FAILED', error: expect.stringMatching(/key/i) });
  const flaky = await ask(sessionId, 'Once more [flaky]');
  expect(await settledMessage(c, sessionId, flaky, 30)).toMatchObject({ status: 'COMPLETED', model: 'mock' });
  const long = await ask(sessionId, 'Go on [words:400] [gap:20]');
  for (let i = 0; i < 200; i++) {
    const now = await c.get(`/openai/sessions/${sessionId}/messages/${long}`);
    if (now.body.status === 'PROCESSING' && now.body.content) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const cancelled = await c.post(`/openai/sessions/${sessionId}/messages/${long}/cancel`, undefined);
  expect(cancelled.body).toMatchObject({ status: 'CANCELLED' });
  expect(cancelled.body.content).toMatch(/^word1( |$)/);
  expect(cancelled.body.content.split(' ').length).toBeLessThan(400);
}, 60_000);

it('answers a task asking [json] with JSON, and leaves organizations with a key of their own to their provider', async () => {
  const sessionId = await newSession();
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize [json]' });
  let task;
  for (let i = 0; i < 100; i++) {
    task = (await c.get(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}?wait=5`)).body;
    if (task.status === 'done') break;
  }
  expect(task).toMatchObject({ status: 'done', model: 'mock', result_json: { mock: true, question: 'Summarize' } });

  const keyed = client(api.url, await api.token({ org: 'org_keyed', user: 'user_mock' }));
  const keyedSession = (await keyed.post('/openai/sessions', {})).body.session_id;
  const answered = (await keyed.post(`/openai/sessions/${keyedSession}/ask`, { message: 'Mine' })).body.message_id;
  expect(await settledMessage(keyed, keyedSession, answered)).toMatchObject({ status: 'COMPLETED', model: 'gpt-4o' });
  expect(own.completions()).toHaveLength(1);
});
