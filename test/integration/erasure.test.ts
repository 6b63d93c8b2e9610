/**
 * Erasure over HTTP on the local stack (DELETE /openai/users/{user_id}/data): everything of a user in
 * the organization goes (sessions with their messages, tasks and progress, idempotency records, usage
 * rows keyed by the user) while the organization's totals and everyone else's data stay; oneself with
 * `me`, any member for org admins; from the answer on no route returns any of it; a second call is
 * harmless. Then the passes the request queues: the rest of an erasure it had no time for, and the
 * last pass that removes what arrived late.
 */
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import type { ErasureJob } from '../../shared/erasure/schema.js';
import { erasureDeps, erasureService, FOLLOW_UP_SECONDS, type ErasureDeps } from '../../shared/erasure/service.js';
import { dynamoSessionRepository } from '../../shared/sessions/repository.js';
import { keys } from '../../shared/store/keys.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let stub: StubOpenAI;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({
    env: {
      org_erase_OPENAI_API_KEY: 'sk-erase',
      org_erase_OPENAI_BASE_URL: stub.url,
      org_elsewhere_OPENAI_API_KEY: 'sk-elsewhere',
      org_elsewhere_OPENAI_BASE_URL: stub.url,
    },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});

const as = async (org: string, user: string, role?: 'admin') => client(api.url, await api.token({ org, user, ...(role ? { role } : {}) }));
const doc = () => api.stack.db.doc;

async function table(): Promise<Record<string, any>[]> {
  const items: Record<string, any>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc().send(new ScanCommand({ TableName: 'ai-chat-local', ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

/** Every item of the table that is a user's in an organization: in their sessions, their idempotency records, their usage rows. */
async function itemsOf(org: string, user: string, sessionIds: string[]) {
  const partitions = new Set(sessionIds.map((id) => keys.sessionPartition(org, id)));
  return (await table()).filter(
    (item) => partitions.has(item.pk) || item.pk === keys.idempotencyPartition(org, user) || (item.pk === keys.usagePartition(org) && item.user_id === user),
  );
}

async function finishedTask(c: Awaited<ReturnType<typeof as>>, sessionId: string, ctxId: string) {
  for (let i = 0; i < 50; i++) {
    const task = (await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}?wait=5`)).body;
    if (task.status !== 'pending' && task.status !== 'processing') return task;
  }
  throw new Error('the task did not finish');
}

/** A user with two sessions: an answered ask (sent with an Idempotency-Key), a note and a finished task. */
async function userWithData(org: string, user: string) {
  const c = await as(org, user);
  const sessionIds: string[] = [];
  const ids: string[] = [];
  for (const name of ['First', 'Second']) {
    const sessionId = (await c.post('/openai/sessions', { name, system_prompt: 'Be brief.' })).body.session_id;
    sessionIds.push(sessionId);
    const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: `A private question in ${name}` }, { 'Idempotency-Key': `ask-${user}-${name}` });
    expect(asked.status).toBe(202);
    expect((await settledMessage(c, sessionId, asked.body.message_id)).status).toBe('COMPLETED');
    const note = await c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'A private note' });
    const task = await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 'Summarize' });
    expect((await finishedTask(c, sessionId, task.body.ctx_id)).status).toBe('done');
    ids.push(`${sessionId}/messages/${asked.body.message_id}`, `${sessionId}/messages/${asked.body.user_message_id}`, `${sessionId}/messages/${note.body.message_id}`, `${sessionId}/ctx/${task.body.ctx_id}`);
  }
  return { c, sessionIds, ids };
}

describe('DELETE /openai/users/{user_id}/data', () => {
  it('erases everything of the caller (me) and nothing of anyone else: the organization’s totals stay', async () => {
    const ann = await userWithData('org_erase', 'user_ann');
    const ben = await userWithData('org_erase', 'user_ben');
    const admin = await as('org_erase', 'user_boss', 'admin');
    const usageBefore = (await admin.get('/openai/usage')).body;
    expect(usageBefore.totals.requests).toBe(8);
    expect((await itemsOf('org_erase', 'user_ann', ann.sessionIds)).map((item) => item.entity).sort()).toEqual(
      expect.arrayContaining(['idempotency', 'message', 'session', 'task', 'usage_user_day']),
    );

    const erased = await ann.c.delete('/openai/users/me/data');
    expect(erased).toMatchObject({ status: 202, body: { status: 'accepted' } });

    // From the answer on: no route returns any of it, and no item of it is left in the table.
    for (const sessionId of ann.sessionIds) {
      expect(await ann.c.get(`/openai/sessions/${sessionId}`)).toMatchObject({ status: 404, body: { code: 'not_found' } });
      expect((await admin.get(`/openai/sessions/${sessionId}`)).status).toBe(404);
      expect((await ann.c.get(`/openai/sessions/${sessionId}/messages`)).status).toBe(404);
      expect((await ann.c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Still there?' })).status).toBe(404);
    }
    for (const path of ann.ids) expect((await ann.c.get(`/openai/sessions/${path}`)).status).toBe(404);
    expect((await ann.c.get('/openai/sessions')).body.items).toEqual([]);
    expect(await itemsOf('org_erase', 'user_ann', ann.sessionIds)).toEqual([]);
    // The retried ask with the same key is a new request: its record went too.
    const again = await ann.c.post(`/openai/sessions/${ann.sessionIds[0]}/ask`, { message: 'A private question in First' }, { 'Idempotency-Key': 'ask-user_ann-First' });
    expect(again.status).toBe(404);

    // The organization's totals stay; the user's rows do not.
    const usageAfter = (await admin.get('/openai/usage?group_by=user')).body;
    expect(usageAfter.totals).toEqual(usageBefore.totals);
    expect(usageAfter.items.map((item: { user_id: string }) => item.user_id)).toEqual(['user_ben']);
    // Ben's data is all there.
    for (const path of ben.ids) expect((await ben.c.get(`/openai/sessions/${path}`)).status).toBe(200);
    expect((await ben.c.get('/openai/sessions')).body.items).toHaveLength(2);

    // Asking again is harmless, and so is erasing a user with nothing stored.
    expect(await ann.c.delete('/openai/users/me/data')).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect(await ann.c.delete('/openai/users/user_ann/data')).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect((await ben.c.get('/openai/sessions')).body.items).toHaveLength(2);
    // Ann may go on: a new session is hers, kept.
    const fresh = (await ann.c.post('/openai/sessions', { name: 'After' })).body.session_id;
    expect((await ann.c.get(`/openai/sessions/${fresh}`)).status).toBe(200);
  }, 90_000);

  it('lets org admins erase any member, members only themselves, and no one another organization’s users (404)', async () => {
    const cat = await userWithData('org_erase', 'user_cat');
    const dan = await as('org_erase', 'user_dan');
    // A member for another: refused, nothing erased.
    expect(await dan.delete('/openai/users/user_cat/data')).toMatchObject({ status: 403, body: { code: 'admin_only' } });
    for (const path of cat.ids) expect((await cat.c.get(`/openai/sessions/${path}`)).status).toBe(200);
    // Another organization's admin: no such user in that organization, and nothing erased here.
    const stranger = await as('org_elsewhere', 'user_eve', 'admin');
    expect(await stranger.delete('/openai/users/user_cat/data')).toMatchObject({ status: 404, body: { code: 'not_found', error: 'User not found: this organization holds no data of that user.' } });
    for (const path of cat.ids) expect((await cat.c.get(`/openai/sessions/${path}`)).status).toBe(200);
    // Nor a user of whom the organization holds nothing.
    const admin = await as('org_erase', 'user_boss', 'admin');
    expect(await admin.delete('/openai/users/user_nobody/data')).toMatchObject({ status: 404, body: { code: 'not_found' } });
    // A user id that cannot be one.
    expect(await dan.delete('/openai/users/not%20an%20id/data')).toMatchObject({ status: 404, body: { code: 'not_found' } });
    expect((await dan.call('POST', '/openai/users/me/data')).status).toBe(404);
    // The organization's admin: erased; asked again, the same answer (the erasure is on record, with who asked).
    expect(await admin.delete('/openai/users/user_cat/data')).toMatchObject({ status: 202, body: { status: 'accepted' } });
    for (const path of cat.ids) expect((await cat.c.get(`/openai/sessions/${path}`)).status).toBe(404);
    expect(await itemsOf('org_erase', 'user_cat', cat.sessionIds)).toEqual([]);
    expect(await admin.delete('/openai/users/user_cat/data')).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect((await table()).filter((item) => item.entity === 'erasure' && item.sk === 'user_cat')).toEqual([
      expect.objectContaining({ pk: 'ORG#org_erase#ERASURE', requested_by: 'user_boss', requested_at: expect.any(String), expires_at: expect.any(Number) }),
    ]);
  }, 90_000);
});

describe('an answer being generated while its user is erased', () => {
  afterEach(() => stub.plan(undefined));

  it('answers a GET waiting on it 404, not what it last read, and leaves none of its progress behind', async () => {
    // The model takes a second to start, then streams for two: the erasure comes before its first word.
    stub.plan(() => ({ latencyMs: 1_000, tokenGapMs: 100 }));
    stub.reply(() => Array.from({ length: 20 }, (_, i) => `word${i}`).join(' '));
    const kim = await as('org_erase', 'user_kim');
    const sessionId = (await kim.post('/openai/sessions', {})).body.session_id;
    const asked = await kim.post(`/openai/sessions/${sessionId}/ask`, { message: 'A long answer, please' });
    const waiting = kim.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}?wait=10`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await kim.delete('/openai/users/me/data')).status).toBe(202);
    expect(await waiting).toMatchObject({ status: 404, body: { code: 'not_found' } });
    // The worker streams into the swept session, then finds its answer gone and takes its progress with it.
    const partition = async () => (await table()).filter((item) => item.pk === keys.sessionPartition('org_erase', sessionId));
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    let left = await partition();
    for (let i = 0; i < 50 && left.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await partition();
    }
    expect(left).toEqual([]);
  }, 30_000);
});

describe('the passes an erasure queues', () => {
  type Queued = Array<{ job: ErasureJob; delaySeconds: number }>;
  const wiring = (queued: Queued, overrides: Partial<ErasureDeps> = {}) =>
    erasureService({ ...erasureDeps(api.stack.db), queuePass: async (job, delaySeconds) => void queued.push({ job, delaySeconds }), ...overrides });
  const member = (userId: string) => ({ orgId: 'org_erase', userId, role: 'org:member' });
  const pass = (userId: string, follow_up: boolean) => ({
    job: { kind: 'erasure', org_id: 'org_erase', user_id: userId, requested_at: expect.any(String), requested_by: userId, follow_up },
    delaySeconds: expect.any(Number),
  });

  it('queues a pass before it starts; out of time, it leaves the sweep to passes, and nothing of the user is shown meanwhile', async () => {
    const fay = await userWithData('org_erase', 'user_fay');
    const queued: Queued = [];
    // The clock runs out as soon as the sessions are marked.
    let clock = Date.now();
    const { db } = api.stack;
    const budgetRunsOut = wiring(queued, {
      now: () => clock,
      sessions: {
        markDeleting: async (...args) => {
          await dynamoSessionRepository(db).markDeleting(...args);
          clock += 60_000;
        },
        deleteWithItems: (...args) => dynamoSessionRepository(db).deleteWithItems(...args),
      },
    });
    expect(await budgetRunsOut.request(member('user_fay'), 'me')).toEqual({ status: 'accepted' });
    // First the pass that finishes whatever the request leaves, then the rest at once.
    expect(queued).toEqual([pass('user_fay', false), pass('user_fay', false)]);
    expect(queued.map((one) => one.delaySeconds)).toEqual([FOLLOW_UP_SECONDS, 0]);
    // Not swept: its items are still in the table, and no route shows any of them (once an instance's
    // 5 s trust in what it read of the user's erasure has passed; the request itself runs 15 s first).
    expect((await itemsOf('org_erase', 'user_fay', fay.sessionIds)).filter((item) => item.entity === 'message').length).toBeGreaterThan(0);
    // A message admitted into one of those sessions after the erasure began, before its session was marked.
    const lateId = '01KZZZZZZZZZZZZZZZZZZZZZZZ';
    await doc().send(
      new PutCommand({
        TableName: 'ai-chat-local',
        Item: { ...keys.message('org_erase', fay.sessionIds[0]!, lateId), entity: 'message', message_id: lateId, session_id: fay.sessionIds[0], user_id: 'user_fay', role: 'user', content: 'Sent while erased', status: 'COMPLETED', created_at: new Date().toISOString() },
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    expect((await fay.c.get(`/openai/sessions/${fay.sessionIds[0]}/messages/${lateId}`)).status).toBe(404);
    for (const sessionId of fay.sessionIds) expect((await fay.c.get(`/openai/sessions/${sessionId}`)).status).toBe(404);
    for (const path of fay.ids) expect((await fay.c.get(`/openai/sessions/${path}`)).status).toBe(404);
    const admin = await as('org_erase', 'user_boss', 'admin');
    for (const path of fay.ids) expect((await admin.get(`/openai/sessions/${path}?wait=1`)).status).toBe(404);

    // The pass, with time: everything goes, and since it erased something, one more is queued a little later.
    const inTime = wiring(queued);
    const result = await inTime.pass(queued[1]!.job);
    expect(result).toMatchObject({ finished: true, sessions: 2 });
    expect(await itemsOf('org_erase', 'user_fay', fay.sessionIds)).toEqual([]);
    expect(queued[2]).toEqual({ job: { ...queued[1]!.job, follow_up: true }, delaySeconds: FOLLOW_UP_SECONDS });

    // What arrived late (a usage row counted by an answer that was finishing): a later pass removes it, and queues nothing more.
    await doc().send(new PutCommand({ TableName: 'ai-chat-local', Item: { pk: keys.usagePartition('org_erase'), sk: `UDAY#2026-12-04#user_fay`, user_id: 'user_fay', entity: 'usage_user_day', total_tokens: 5 } }));
    expect(await inTime.pass(queued[2]!.job)).toMatchObject({ finished: true, usageRows: 1 });
    expect((await table()).filter((item) => item.user_id === 'user_fay' && item.entity !== 'erasure')).toEqual([]);
    // The first pass, 30 s on, finds nothing and queues nothing.
    expect(await inTime.pass(queued[0]!.job)).toMatchObject({ found: false, finished: true });
    expect(queued).toHaveLength(3);
  }, 90_000);

  it('hides from every route a session the owner index had not shown yet, until a pass sweeps it', async () => {
    const lou = await userWithData('org_erase', 'user_lou');
    const queued: Queued = [];
    // The index lags: the request finds no session at all.
    const lagging = wiring(queued, { sessionsOfUser: async () => ({ sessions: [] }) });
    expect(await lagging.request(member('user_lou'), 'me')).toEqual({ status: 'accepted' });
    expect((await itemsOf('org_erase', 'user_lou', lou.sessionIds)).filter((item) => item.entity === 'session')).toHaveLength(2);
    // Past an instance's 5 s trust in what it read of the user's erasure: gone from every route.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    for (const sessionId of lou.sessionIds) {
      expect((await lou.c.get(`/openai/sessions/${sessionId}`)).status).toBe(404);
      expect((await lou.c.get(`/openai/sessions/${sessionId}/messages`)).status).toBe(404);
      expect((await lou.c.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'Still here?' })).status).toBe(404);
    }
    for (const path of lou.ids) expect((await lou.c.get(`/openai/sessions/${path}`)).status).toBe(404);
    expect((await lou.c.get('/openai/sessions?include_last=true')).body.items).toEqual([]);
    // The pass the request queued first, 30 s on, finds them and erases them.
    expect(queued[0]).toEqual(pass('user_lou', false));
    expect(await wiring(queued).pass(queued[0]!.job)).toMatchObject({ finished: true, sessions: 2 });
    expect(await itemsOf('org_erase', 'user_lou', lou.sessionIds)).toEqual([]);
  }, 60_000);

  it('has a pass queued to finish what a failed request began, before it began', async () => {
    const ivy = await userWithData('org_erase', 'user_ivy');
    const queued: Queued = [];
    const { db } = api.stack;
    // The table refuses the sweep once the sessions are marked (a fault no emulator makes on demand).
    const flaky = wiring(queued, {
      sessions: {
        markDeleting: (...args) => dynamoSessionRepository(db).markDeleting(...args),
        deleteWithItems: async () => {
          throw Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ThrottlingException' });
        },
      },
    });
    expect(await flaky.request(member('user_ivy'), 'me').catch((error: Error) => error.name)).toBe('ThrottlingException');
    // Marked already: no route shows the sessions; the pass queued first erases them when the table is back.
    for (const sessionId of ivy.sessionIds) expect((await ivy.c.get(`/openai/sessions/${sessionId}`)).status).toBe(404);
    expect(queued).toEqual([pass('user_ivy', false)]);
    expect(await wiring(queued).pass(queued[0]!.job)).toMatchObject({ finished: true });
    expect(await itemsOf('org_erase', 'user_ivy', ivy.sessionIds)).toEqual([]);
  }, 60_000);

  it('starts nothing when its pass cannot be queued: 503 queue_unavailable, nothing erased', async () => {
    const jay = await userWithData('org_erase', 'user_jay');
    const refused = wiring([], { queuePass: async () => Promise.reject(Object.assign(new Error('unavailable'), { name: 'ServiceUnavailable' })) });
    expect(await refused.request(member('user_jay'), 'me').catch((error: { code?: string }) => error.code)).toBe('queue_unavailable');
    for (const path of jay.ids) expect((await jay.c.get(`/openai/sessions/${path}`)).status).toBe(200);
  }, 60_000);

  it('leaves a session started after the request to its owner', async () => {
    const gus = await as('org_erase', 'user_gus');
    const kept = (await gus.post('/openai/sessions', { name: 'Started after' })).body.session_id;
    const queued: Array<{ job: ErasureJob; delaySeconds: number }> = [];
    const result = await wiring(queued).pass({ kind: 'erasure', org_id: 'org_erase', user_id: 'user_gus', requested_at: '2026-01-01T00:00:00.000Z', follow_up: true });
    expect(result).toMatchObject({ finished: true, sessions: 0 });
    expect((await gus.get(`/openai/sessions/${kept}`)).status).toBe(200);
  });

  it('leaves the record of a request made after it, even in the same second', async () => {
    const max = await as('org_erase', 'user_max');
    const sessionId = (await max.post('/openai/sessions', {})).body.session_id;
    expect((await max.post(`/openai/sessions/${sessionId}/ask`, { message: 'After' }, { 'Idempotency-Key': 'after-the-erasure' })).status).toBe(202);
    const recordOf = async () => (await table()).find((item) => item.pk === keys.idempotencyPartition('org_erase', 'user_max'));
    const record = (await recordOf())!;
    // An erasure asked a millisecond before that ask.
    const requestedAt = new Date(Date.parse(record.created_at) - 1).toISOString();
    expect(await wiring([]).pass({ kind: 'erasure', org_id: 'org_erase', user_id: 'user_max', requested_at: requestedAt, follow_up: true })).toMatchObject({ idempotencyRecords: 0 });
    expect(await recordOf()).toMatchObject({ sk: record.sk, created_at: record.created_at });
  });
});

describe('the erasure worker, fed by the local poller from the erasure queue', () => {
  it('runs a queued pass: the user’s data goes', async () => {
    const { sendToQueue } = await import('../../shared/jobs/job-queue.js');
    const hal = await userWithData('org_erase', 'user_hal');
    const job: ErasureJob = { kind: 'erasure', org_id: 'org_erase', user_id: 'user_hal', requested_at: new Date().toISOString(), follow_up: true };
    await sendToQueue('erasure', 'not a pass');
    await sendToQueue('erasure', JSON.stringify(job));
    let left = await itemsOf('org_erase', 'user_hal', hal.sessionIds);
    for (let i = 0; i < 100 && left.length; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      left = await itemsOf('org_erase', 'user_hal', hal.sessionIds);
    }
    expect(left).toEqual([]);
    for (const path of hal.ids) expect((await hal.c.get(`/openai/sessions/${path}`)).status).toBe(404);
  }, 60_000);
});
