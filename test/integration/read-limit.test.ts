/** List reads (the reads that fan out) have a per-organization limit of their own, over HTTP. */
import { client, startTestApi, type TestApi } from '../helpers/local-api.js';

describe('list reads under their own per-org limit', () => {
  let reads: TestApi;
  beforeAll(async () => {
    reads = await startTestApi({ workers: false, env: { ORG_RATE_LIMIT_PER_MINUTE: '100', ORG_READ_RATE_LIMIT_PER_MINUTE: '3' } });
  }, 30_000);
  afterAll(async () => reads?.close());

  it('refuses the list read past it with 429, and leaves single reads and asks alone', async () => {
    const c = client(reads.url, await reads.token({ org: 'org_promises_reads', user: 'user_promises' }));
    const { session_id } = (await c.post('/openai/sessions', {})).body;
    expect((await c.get('/openai/sessions')).status).toBe(200);
    expect((await c.get(`/openai/sessions/${session_id}/messages`)).status).toBe(200);
    expect((await c.get('/openai/sessions?include_last=true')).status).toBe(200);
    const refused = await c.get('/openai/sessions');
    expect(refused).toMatchObject({ status: 429, body: { code: 'rate_limited', error: expect.stringMatching(/limit of 3 list reads per minute/) } });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await c.get(`/openai/sessions/${session_id}`)).status).toBe(200);
    expect((await c.post(`/openai/sessions/${session_id}/ask`, { message: 'still asking' })).status).toBe(202);
    // Another organization has its own.
    const other = client(reads.url, await reads.token({ org: 'org_promises_other', user: 'user_promises' }));
    expect((await other.get('/openai/sessions')).status).toBe(200);
  });
});
