/**
 * DynamoDB throttling and 5xx, injected by a proxy between the handlers and dynalite: the API
 * answers 503 with Retry-After and leaves nothing half-made; a worker whose writes fail retries the
 * job later, and the answer comes, once.
 */
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let proxy: FaultProxy;
let stub: StubOpenAI;
let c: ReturnType<typeof client>;

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({
    visibilityTimeoutSeconds: 2,
    env: { org_faults_OPENAI_API_KEY: 'sk-faults', org_faults_OPENAI_BASE_URL: stub.url, JOB_RETRY_BASE_SECONDS: '1', JOB_MAX_ATTEMPTS: '10' },
  });
  proxy = await startFaultProxy(api.stack.dynamoEndpoint);
  // Set before the first request: the handlers make their DynamoDB client on first use.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = proxy.url;
  c = client(api.url, await api.token({ org: 'org_faults', user: 'user_faults' }));
}, 30_000);
afterAll(async () => {
  await api?.close();
  await proxy?.close();
  await stub?.close();
});
afterEach(() => {
  proxy.clear();
  proxy.injected.clear();
});

const THROTTLED = { status: 400, type: 'ProvisionedThroughputExceededException' };
const BROKEN = { status: 500, type: 'InternalServerError' };

it('answers 503 with Retry-After when the table throttles past the SDK’s retries, and keeps nothing of it', async () => {
  proxy.fail({ operation: 'PutItem', ...THROTTLED, times: 10 });
  const refused = await c.post('/openai/sessions', { name: 'throttled' });
  expect(refused).toMatchObject({ status: 503, body: { code: 'service_unavailable' } });
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(proxy.injected.get('PutItem')).toBeGreaterThanOrEqual(2);
  proxy.clear();
  expect((await c.get('/openai/sessions')).body.items.map((session: { name: string }) => session.name)).not.toContain('throttled');
  expect(await c.post('/openai/sessions', { name: 'later' })).toMatchObject({ status: 201 });
});

it('answers 503 when storing an ask fails with a 5xx, with no message kept and no model call', async () => {
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  proxy.fail({ operation: 'BatchWriteItem', ...BROKEN, times: 10 });
  expect(await c.post(`/openai/sessions/${session_id}/ask`, { message: 'lost?' })).toMatchObject({ status: 503 });
  proxy.clear();
  expect((await c.get(`/openai/sessions/${session_id}/messages`)).body.items).toEqual([]);
  expect((await c.get(`/openai/sessions/${session_id}`)).body.message_count).toBe(0);
  expect(stub.requests.filter((request) => JSON.stringify(request.body.messages).includes('lost?'))).toHaveLength(0);
});

it('writes an answer whose outcome write is throttled past the SDK’s retries, without asking the model again', async () => {
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  // The API's UpdateItems (rate window, admission), then the worker's claim, all pass; its outcome
  // write then meets four throttles (the SDK tries three times).
  proxy.fail({ operation: 'UpdateItem', ...THROTTLED, skip: 3, times: 4 });
  const asked = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'write me down' });
  const answer = await settledMessage(c, session_id, asked.body.message_id, 20);
  expect(answer).toMatchObject({ status: 'COMPLETED' });
  expect(proxy.injected.get('UpdateItem')).toBe(4);
  expect(stub.completions().filter((request) => request.body.messages.at(-1).content === 'write me down')).toHaveLength(1);
}, 40_000);

it('answers an ask once when the worker’s writes are throttled for a while', async () => {
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  // The worker's claim and outcome are UpdateItems; the API's own admission is one too.
  const asked = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'still there?' });
  expect(asked.status).toBe(202);
  proxy.fail({ operation: 'UpdateItem', ...THROTTLED, times: 6 });
  const answer = await settledMessage(c, session_id, asked.body.message_id, 60);
  expect(answer).toMatchObject({ status: 'COMPLETED' });
  expect(proxy.injected.get('UpdateItem')).toBeGreaterThan(0);
  expect(stub.completions().filter((request) => request.body.messages.at(-1).content === 'still there?')).toHaveLength(1);
}, 80_000);
