/** What the docs promise and no other test held to, over HTTP against the local API. */
import { client, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ workers: false, env: { ORG_RATE_LIMIT_PER_MINUTE: '3' } });
}, 30_000);
afterAll(async () => api?.close());

const as = async (org: string) => client(api.url, await api.token({ org, user: 'user_promises' }));

it('ignores unknown query parameters', async () => {
  const c = await as('org_promises_query');
  await c.post('/openai/sessions', { name: 'q' });
  const listed = await c.get('/openai/sessions?limit=5&utm_source=newsletter&x=1');
  expect(listed).toMatchObject({ status: 200, body: { items: [{ name: 'q' }] } });
});

it('renames an ended session, alone, and keeps it ended', async () => {
  const c = await as('org_promises_rename');
  const { session_id } = (await c.post('/openai/sessions', { name: 'before' })).body;
  const ended = (await c.patch(`/openai/sessions/${session_id}`, { end: true })).body;
  const renamed = await c.patch(`/openai/sessions/${session_id}`, { name: 'after' });
  expect(renamed).toMatchObject({ status: 200, body: { name: 'after', session_end: ended.session_end } });
  expect(await c.patch(`/openai/sessions/${session_id}`, { end: false })).toMatchObject({ status: 400 });
});

it('does not count idempotent replays toward the rate limit', async () => {
  const c = await as('org_promises_rate');
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  const first = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'once' }, { 'idempotency-key': 'replayed-key' });
  expect(first.status).toBe(202);
  for (let i = 0; i < 5; i++) {
    const replay = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'once' }, { 'idempotency-key': 'replayed-key' });
    expect(replay).toMatchObject({ status: 202, body: first.body });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  }
  // The limit is 3: two more fresh asks pass, the one after is refused.
  expect((await c.post(`/openai/sessions/${session_id}/ask`, { message: 'two' })).status).toBe(202);
  expect((await c.post(`/openai/sessions/${session_id}/ask`, { message: 'three' })).status).toBe(202);
  expect((await c.post(`/openai/sessions/${session_id}/ask`, { message: 'four' })).status).toBe(429);
});

it('does not remember a key whose request failed with a 5xx: its retry runs again', async () => {
  const c = await as('org_promises_503');
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  const queueUrl = process.env.ASK_QUEUE_URL!;
  process.env.ASK_QUEUE_URL = `${queueUrl}-gone`;
  try {
    const failed = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'retry me' }, { 'idempotency-key': 'after-503' });
    expect(failed).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
  } finally {
    process.env.ASK_QUEUE_URL = queueUrl;
  }
  const retried = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'retry me' }, { 'idempotency-key': 'after-503' });
  expect(retried.status).toBe(202);
  expect(retried.headers.get('idempotent-replayed')).toBeNull();
});
