/**
 * The local stack as `npm start` runs it: the queue pollers and the worker handlers in a thread of
 * their own (bin/local/local-workers.ts), as Lambda runs each function in its own sandbox, and dynalite
 * in another (bin/local/dynamodb.ts). The workers get the environment the stack started with (an
 * organization's key), answer asks and tasks through the real SDK against the stub model, and stop
 * with the stack.
 */
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

const ORG = 'org_thread_clinic';

let api: TestApi;
let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({ workerThread: true, env: { [`${ORG}_OPENAI_API_KEY`]: 'sk-thread', [`${ORG}_OPENAI_BASE_URL`]: stub.url } });
});
afterAll(async () => {
  await api.close();
  await stub.close();
});

it('answers asks and tasks from its own thread, with the organization’s key', async () => {
  stub.reply((body) => `Answered: ${body.messages.at(-1).content}`);
  const c = client(api.url, await api.token({ org: ORG, user: 'user_thread' }));
  const sessionId = (await c.post('/openai/sessions', { name: 'threads' })).body.session_id as string;

  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Which thread?' });
  expect(asked.status).toBe(202);
  expect(await settledMessage(c, sessionId, asked.body.message_id)).toMatchObject({ status: 'COMPLETED', content: 'Answered: Which thread?' });

  const task = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize' });
  expect(task.status).toBe(202);
  const done = await c.get(`/openai/sessions/${sessionId}/ctx/${task.body.ctx_id}?wait=20`);
  expect(done.body).toMatchObject({ status: 'done' });

  expect(stub.completions().map((request) => request.apiKey)).toEqual(['sk-thread', 'sk-thread']);
  // The store's requests are counted in its own thread and read here as they happen.
  expect(api.stack.dynamo.requestCounts.get('UpdateItem')).toBeGreaterThan(0);
  const gets = api.stack.dynamo.requestCounts.get('GetItem') ?? 0;
  await c.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`);
  expect(api.stack.dynamo.requestCounts.get('GetItem')).toBe(gets + 1);
}, 30_000);

it('stops its pollers and its thread with the stack', async () => {
  const other = await startTestApi({ workerThread: true });
  const started = Date.now();
  await other.close();
  // The pollers' long polls (1 s) are cut short; nothing is left running (jest would report it).
  expect(Date.now() - started).toBeLessThan(5000);
}, 30_000);
