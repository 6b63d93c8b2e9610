/**
 * Fairness between organizations on the local stack (pollers, workers, a stub model that takes a
 * second an answer): one organization flooding asks over many sessions holds at most its places in
 * flight (ORG_MAX_IN_FLIGHT), so another organization's ask is answered while the flood is still
 * being worked through, and every ask of the flood is answered in the end.
 */
import type { RecordedRequest } from '../../bin/local/stub-openai.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

const CAP = 4;
const MODEL_MS = 1000;
let api: TestApi;
let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
  stub.latency(MODEL_MS);
  api = await startTestApi({
    env: {
      org_flood_OPENAI_API_KEY: 'sk-flood',
      org_flood_OPENAI_BASE_URL: stub.url,
      org_quiet_OPENAI_API_KEY: 'sk-quiet',
      org_quiet_OPENAI_BASE_URL: stub.url,
      ORG_MAX_IN_FLIGHT: String(CAP),
      ORG_RATE_LIMIT_PER_MINUTE: '1000',
      JOB_RETRY_BASE_SECONDS: '1',
    },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  delete process.env.ORG_MAX_IN_FLIGHT;
});

/** The most requests of `calls` that were at the model at the same moment. */
function mostAtOnce(calls: RecordedRequest[]): number {
  const edges = calls.flatMap((call) => [
    [call.receivedAt, 1],
    [call.endedAt ?? Infinity, -1],
  ]) as Array<[number, number]>;
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (now += step));
  return most;
}

it('answers another organization’s ask while one floods the workers, which never holds more than its places', async () => {
  const flood = client(api.url, await api.token({ org: 'org_flood', user: 'user_flood' }));
  const quiet = client(api.url, await api.token({ org: 'org_quiet', user: 'user_quiet' }));
  const sessions = await Promise.all(Array.from({ length: 12 }, async () => (await flood.post('/openai/sessions', {})).body.session_id as string));
  const asked: Array<{ sessionId: string; messageId: string }> = [];
  for (let turn = 0; turn < 2; turn++) {
    for (const sessionId of sessions) asked.push({ sessionId, messageId: (await flood.post(`/openai/sessions/${sessionId}/ask`, { message: `flood ${turn}` })).body.message_id });
  }
  const quietSession = (await quiet.post('/openai/sessions', {})).body.session_id;
  const quietAsk = (await quiet.post(`/openai/sessions/${quietSession}/ask`, { message: 'quiet' })).body.message_id;
  expect(await settledMessage(quiet, quietSession, quietAsk, 30)).toMatchObject({ status: 'COMPLETED' });
  const quietCall = stub.requests.find((request) => request.apiKey === 'sk-quiet')!;
  // The quiet organization's ask reached the model while the flood still had asks waiting for it.
  const floodCalls = () => stub.requests.filter((request) => request.apiKey === 'sk-flood');
  for (const { sessionId, messageId } of asked) expect(await settledMessage(flood, sessionId, messageId, 60)).toMatchObject({ status: 'COMPLETED' });
  expect(floodCalls().filter((call) => call.receivedAt > quietCall.receivedAt).length).toBeGreaterThanOrEqual(asked.length / 2);
  expect(mostAtOnce(floodCalls())).toBeLessThanOrEqual(CAP);
  expect(mostAtOnce(floodCalls())).toBeGreaterThanOrEqual(2);
  // Each ask of the flood got exactly one model call.
  expect(floodCalls()).toHaveLength(asked.length);
}, 120_000);
