/**
 * Retention over HTTP on the local stack: with {ORG_ID}_RETENTION_DAYS, messages and tasks carry the
 * table's TTL attribute from their creation, sessions from their last activity; and no route returns
 * an item past its time, before DynamoDB's TTL has removed it (the clock moved with
 * LOCAL_CLOCK_OFFSET_SECONDS).
 */
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { keys } from '../../shared/store/keys.js';
import { queryAll } from '../../shared/store/paging.js';
import { dynamoOrgPolicyRepository, policyFields } from '../../shared/org-policy/repository.js';
import { forgetOrgPolicies } from '../../shared/org-policy/policy.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

const DAY = 86_400;
let api: TestApi;
let stub: StubOpenAI;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({
    env: {
      org_kept_OPENAI_API_KEY: 'sk-kept',
      org_kept_OPENAI_BASE_URL: stub.url,
      org_kept_RETENTION_DAYS: '2',
      org_forever_OPENAI_API_KEY: 'sk-forever',
      org_forever_OPENAI_BASE_URL: stub.url,
    },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});
afterEach(() => {
  delete process.env.LOCAL_CLOCK_OFFSET_SECONDS;
});

const as = async (org: string, user = 'user_keeper', role?: 'admin') => client(api.url, await api.token({ org, user, ...(role ? { role } : {}) }));
const partition = async (org: string, sessionId: string): Promise<Record<string, any>[]> =>
  queryAll(api.stack.db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.sessionPartition(org, sessionId) } });

it('writes the TTL attribute: messages and tasks from their creation, the session from its last write', async () => {
  const c = await as('org_kept');
  const created = await c.post('/openai/sessions', { name: 'Kept two days' });
  const sessionId = created.body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Remember this' });
  await settledMessage(c, sessionId, asked.body.message_id);
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize' });
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const added = await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'A note, a second later' });
  const items = await partition('org_kept', sessionId);
  const at = (created_at: string) => Math.floor(Date.parse(created_at) / 1000) + 2 * DAY;
  for (const item of items.filter((candidate) => /^(MSG|CTX)#/.test(candidate.sk))) expect(item.expires_at).toBe(at(item.created_at));
  expect(items.filter((item) => /^(MSG|CTX)#/.test(item.sk)).map((item) => item.sk).sort()).toEqual(
    [`MSG#${asked.body.user_message_id}`, `MSG#${asked.body.message_id}`, `MSG#${added.body.message_id}`, `CTX#${started.body.ctx_id}`].sort(),
  );
  // The session's time runs from its last write: the note, a second after the rest.
  const session = items.find((item) => item.sk === 'SESSION')!;
  expect(session.expires_at).toBe(at(added.body.created_at));
  expect(session.expires_at).toBeGreaterThan(at(created.body.session_start));

  const other = await as('org_forever');
  const kept = (await other.post('/openai/sessions', {})).body.session_id;
  await other.post(`/openai/sessions/${kept}/messages`, { role: 'user', content: 'Kept' });
  expect((await partition('org_forever', kept)).every((item) => item.expires_at === undefined)).toBe(true);
});

it('returns nothing past its time from any route, while the items are still in the table', async () => {
  const c = await as('org_kept');
  const admin = await as('org_kept', 'user_boss', 'admin');
  const sessionId = (await c.post('/openai/sessions', { name: 'Old' })).body.session_id;
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Old question' });
  await settledMessage(c, sessionId, asked.body.message_id);
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Old task' });
  await c.get(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}?wait=5`);
  const forever = await as('org_forever');
  const keptSession = (await forever.post('/openai/sessions', {})).body.session_id;

  // A day on: all there.
  process.env.LOCAL_CLOCK_OFFSET_SECONDS = String(DAY);
  expect((await c.get(`/openai/sessions/${sessionId}`)).status).toBe(200);
  expect((await c.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).status).toBe(200);

  // Three days on: gone from every route, though DynamoDB has not removed them yet.
  process.env.LOCAL_CLOCK_OFFSET_SECONDS = String(3 * DAY);
  expect(await c.get(`/openai/sessions/${sessionId}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
  expect(await admin.get(`/openai/sessions/${sessionId}`)).toMatchObject({ status: 404 });
  expect((await c.get('/openai/sessions?limit=100&include_last=true')).body.items.map((session: { session_id: string }) => session.session_id)).not.toContain(sessionId);
  expect((await c.get(`/openai/sessions/${sessionId}/messages`)).status).toBe(404);
  expect((await c.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).status).toBe(404);
  expect((await c.get(`/openai/sessions/${sessionId}/messages/${asked.body.user_message_id}`)).status).toBe(404);
  expect((await c.get(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}`)).status).toBe(404);
  expect((await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Still there?' })).status).toBe(404);
  expect((await partition('org_kept', sessionId)).length).toBeGreaterThan(3);
  // An organization without a retention keeps everything.
  expect((await forever.get(`/openai/sessions/${keptSession}`)).status).toBe(200);
});

it('answers 404 to a cancel or a delete of an item past its time in a session that is not', async () => {
  const c = await as('org_kept');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const note = await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'Old note' });
  const started = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize' });
  await c.get(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}?wait=5`);
  // A write a second later keeps the session a second longer than the note and the task.
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'Newer note' });
  const items = await partition('org_kept', sessionId);
  const expiresAt = (sk: string) => items.find((item) => item.sk === sk)!.expires_at as number;
  const taskExpiry = expiresAt(`CTX#${started.body.ctx_id}`);
  expect(expiresAt('SESSION')).toBeGreaterThan(taskExpiry);
  // The moment the task and the note are past their time, and the session is not.
  process.env.LOCAL_CLOCK_OFFSET_SECONDS = String(taskExpiry - Math.floor(Date.now() / 1000));
  expect((await c.get(`/openai/sessions/${sessionId}`)).status).toBe(200);
  expect(await c.post(`/openai/sessions/${sessionId}/ctx/${started.body.ctx_id}/cancel`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
  expect(await c.delete(`/openai/sessions/${sessionId}/messages/${note.body.message_id}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
});

it('keeps a session until it is deleted once its organization has no retention any more', async () => {
  const c = await as('org_kept');
  const sessionId = (await c.post('/openai/sessions', {})).body.session_id;
  const old = await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'Written under a retention' });
  const policies = dynamoOrgPolicyRepository(api.stack.db);
  await policies.put('org_kept', policyFields({}));
  forgetOrgPolicies();
  try {
    const kept = await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'Written without one' });
    const items = await partition('org_kept', sessionId);
    expect(items.find((item) => item.sk === 'SESSION')!.expires_at).toBeUndefined();
    expect(items.find((item) => item.sk === `MSG#${kept.body.message_id}`)!.expires_at).toBeUndefined();
    // Three days on: the session and the new message are there; the old message kept its own time.
    process.env.LOCAL_CLOCK_OFFSET_SECONDS = String(3 * DAY);
    expect((await c.get(`/openai/sessions/${sessionId}`)).status).toBe(200);
    expect((await c.get(`/openai/sessions/${sessionId}/messages/${kept.body.message_id}`)).status).toBe(200);
    expect((await c.get(`/openai/sessions/${sessionId}/messages/${old.body.message_id}`)).status).toBe(404);
  } finally {
    await policies.put('org_kept', policyFields({ retention_days: 2 }));
    forgetOrgPolicies();
  }
});
