/**
 * Usage and budgets over HTTP on the local stack: every finished answer and task counted once, by
 * day, model and user, for the organization's admins only; a monthly token budget that refuses new
 * asks and tasks with 429 budget_exhausted once it is spent, until the month ends.
 */
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let stub: StubOpenAI;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({
    env: {
      org_use_OPENAI_API_KEY: 'sk-use',
      org_use_OPENAI_BASE_URL: stub.url,
      org_other_OPENAI_API_KEY: 'sk-other',
      org_other_OPENAI_BASE_URL: stub.url,
      org_capped_OPENAI_API_KEY: 'sk-capped',
      org_capped_OPENAI_BASE_URL: stub.url,
      org_capped_MONTHLY_TOKEN_BUDGET: '60',
    },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});

const as = async (org: string, user: string, role?: 'admin') => client(api.url, await api.token({ org, user, ...(role ? { role } : {}) }));
const today = () => new Date().toISOString().slice(0, 10);
const sum = (usages: Array<{ prompt_tokens: number; completion_tokens: number; total_tokens: number }>) => ({
  requests: usages.length,
  prompt_tokens: usages.reduce((total, usage) => total + usage.prompt_tokens, 0),
  completion_tokens: usages.reduce((total, usage) => total + usage.completion_tokens, 0),
  total_tokens: usages.reduce((total, usage) => total + usage.total_tokens, 0),
});

async function finishedTask(c: Awaited<ReturnType<typeof as>>, sessionId: string, ctxId: string) {
  for (let i = 0; i < 100; i++) {
    const task = (await c.get(`/openai/sessions/${sessionId}/ctx/${ctxId}?wait=5`)).body;
    if (task.status !== 'pending' && task.status !== 'processing') return task;
  }
  throw new Error('the task did not finish');
}

describe('GET /openai/usage', () => {
  it('counts each finished answer and task once, by day, model and user, equal to the sum of their usage', async () => {
    const alice = await as('org_use', 'user_alice');
    const bob = await as('org_use', 'user_bob');
    const finished: Array<{ user: string; model: string; usage: any }> = [];
    for (const [caller, user, model] of [
      [alice, 'user_alice', undefined],
      [alice, 'user_alice', 'gpt-4o-mini'],
      [bob, 'user_bob', undefined],
    ] as const) {
      const sessionId = (await caller.post('/openai/sessions', {})).body.session_id;
      const asked = await caller.post(`/openai/sessions/${sessionId}/ask`, { message: `Question of ${user}`, ...(model ? { model } : {}) });
      const answer: any = await settledMessage(caller, sessionId, asked.body.message_id);
      expect(answer).toMatchObject({ status: 'COMPLETED', usage: expect.any(Object) });
      finished.push({ user, model: answer.model, usage: answer.usage });
    }
    const bobSession = (await bob.post('/openai/sessions', {})).body.session_id;
    const started = await bob.post(`/openai/sessions/${bobSession}/ctx`, { task: 'Summarize' });
    const task = await finishedTask(bob, bobSession, started.body.ctx_id);
    expect(task).toMatchObject({ status: 'done', usage: expect.any(Object) });
    finished.push({ user: 'user_bob', model: task.model, usage: task.usage });

    const admin = await as('org_use', 'user_admin', 'admin');
    const byDay = await admin.get('/openai/usage?group_by=day');
    expect(byDay.status).toBe(200);
    const totals = sum(finished.map((entry) => entry.usage));
    expect(byDay.body).toMatchObject({ to: today(), group_by: 'day', totals, items: [{ date: today(), ...totals }] });

    const byModel = await admin.get(`/openai/usage?from=${today()}&to=${today()}&group_by=model`);
    const models = [...new Set(finished.map((entry) => entry.model))].sort();
    expect(byModel.body.items).toEqual(models.map((model) => ({ model, ...sum(finished.filter((entry) => entry.model === model).map((entry) => entry.usage)) })));
    expect(models).toEqual(['gpt-4o', 'gpt-4o-mini']);

    const byUser = await admin.get('/openai/usage?group_by=user');
    expect(byUser.body.items).toEqual(
      ['user_alice', 'user_bob'].map((user_id) => ({ user_id, ...sum(finished.filter((entry) => entry.user === user_id).map((entry) => entry.usage)) })),
    );
    expect(byUser.body.totals).toEqual(totals);

    // Another organization sees none of it; a member may not read it at all.
    const otherAdmin = await as('org_other', 'user_admin', 'admin');
    expect((await otherAdmin.get('/openai/usage')).body).toMatchObject({ items: [], totals: { requests: 0, total_tokens: 0 } });
    expect(await alice.get('/openai/usage')).toMatchObject({ status: 403, body: { code: 'admin_only' } });
  });

  it('counts a cancelled answer with what it generated before it stopped', async () => {
    const admin = await as('org_other', 'user_admin', 'admin');
    const carol = await as('org_other', 'user_carol');
    const before = (await admin.get('/openai/usage')).body.totals;
    stub.tokenGap(40);
    stub.reply(() => Array.from({ length: 300 }, (_, i) => `w${i}`).join(' '));
    try {
      const sessionId = (await carol.post('/openai/sessions', {})).body.session_id;
      const asked = await carol.post(`/openai/sessions/${sessionId}/ask`, { message: 'Talk for a while' });
      for (let i = 0; i < 200; i++) {
        const now = (await carol.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).body;
        if (now.status === 'PROCESSING' && now.content) break;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect((await carol.post(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}/cancel`, undefined)).body.status).toBe('CANCELLED');
      let after = before;
      for (let i = 0; i < 100 && after.requests === before.requests; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        after = (await admin.get('/openai/usage')).body.totals;
      }
      expect(after.requests).toBe(before.requests + 1);
      expect(after.completion_tokens).toBeGreaterThan(before.completion_tokens);
      expect(after.prompt_tokens).toBeGreaterThan(before.prompt_tokens);
    } finally {
      stub.reset();
    }
  }, 30_000);

  it('refuses a range that is not one: a date that does not exist, from after to, more than 92 days, an unknown grouping', async () => {
    const admin = await as('org_use', 'user_admin', 'admin');
    for (const query of ['from=2026-02-30', 'to=26-01-01', 'from=2026-03-02&to=2026-03-01', 'from=2026-01-01&to=2026-04-03', 'group_by=week']) {
      const answer = await admin.get(`/openai/usage?${query}`);
      expect(answer).toMatchObject({ status: 400, body: { code: expect.any(String), error: expect.any(String) } });
    }
    expect((await admin.get('/openai/usage?from=2026-01-01&to=2026-04-02')).status).toBe(200);
  });
});

describe('a monthly token budget', () => {
  it('refuses new asks and tasks with 429 budget_exhausted and Retry-After until the month ends, once reached; work accepted before still finishes', async () => {
    const capped = await as('org_capped', 'user_capped');
    const sessionId = (await capped.post('/openai/sessions', {})).body.session_id;
    // Two asks accepted while the month's usage is below the budget (60 tokens): both finish.
    const first = await capped.post(`/openai/sessions/${sessionId}/ask`, { message: 'One question that uses some tokens' });
    const second = await capped.post(`/openai/sessions/${sessionId}/ask`, { message: 'A second one' });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(await settledMessage(capped, sessionId, first.body.message_id)).toMatchObject({ status: 'COMPLETED' });
    const last: any = await settledMessage(capped, sessionId, second.body.message_id);
    expect(last.status).toBe('COMPLETED');
    expect(last.usage.total_tokens).toBeGreaterThan(30);

    const refused = await capped.post(`/openai/sessions/${sessionId}/ask`, { message: 'One more' });
    expect(refused).toMatchObject({ status: 429, body: { code: 'budget_exhausted', error: expect.stringMatching(/monthly budget of 60 tokens/) } });
    const now = new Date();
    const untilNextMonth = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) - now.getTime()) / 1000;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(untilNextMonth - 30);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(Math.ceil(untilNextMonth) + 1);
    expect(await capped.post(`/openai/sessions/${sessionId}/ctx`, { task: 'x' })).toMatchObject({ status: 429, body: { code: 'budget_exhausted' } });
    // Nothing of the refused ask was stored; reads and other organizations go on.
    expect((await capped.get(`/openai/sessions/${sessionId}`)).body.message_count).toBe(4);
    const other = await as('org_use', 'user_alice');
    const otherSession = (await other.post('/openai/sessions', {})).body.session_id;
    expect((await other.post(`/openai/sessions/${otherSession}/ask`, { message: 'still fine' })).status).toBe(202);
  });
});
