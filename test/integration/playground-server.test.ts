/**
 * The playground's routes on the local gateway (the page itself is driven in Chromium by
 * test/browser/playground.test.ts): what it serves, and to whom it gives development tokens.
 */
import { request } from 'node:http';
import { startLocalStack, type LocalStack } from '../../bin/local/local-stack.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { startTestApi, type TestApi } from '../helpers/local-api.js';

/** A POST with a Host header of our choosing (fetch does not let one set it). */
const post = (url: string, path: string, body: string, host?: string) =>
  new Promise<{ status: number; body: any }>((resolve, reject) => {
    const target = new URL(path, url);
    const req = request({ hostname: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: host ? { host } : {} }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });

describe('with the development key pair (npm start without a Clerk key)', () => {
  let stack: LocalStack;
  const saved = process.env.CLERK_JWT_KEY;
  beforeAll(async () => {
    delete process.env.CLERK_JWT_KEY;
    delete process.env.CLERK_SECRET_KEY;
    stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true });
  }, 30_000);
  afterAll(async () => {
    await stack?.close();
    if (saved !== undefined) process.env.CLERK_JWT_KEY = saved;
  });

  it('serves the page, its style and its script, bundled with the client library', async () => {
    const page = await fetch(`${stack.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/playground/app.js');
    const script = await fetch(`${stack.url}/playground/app.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).toContain('last-event-id');
    expect((await fetch(`${stack.url}/playground/config`).then((r) => r.json()))).toEqual({ devTokens: true });
  }, 30_000);

  it('gives a token the API accepts to pages of this machine only, for a valid organization and user', async () => {
    const given = await post(stack.url, '/playground/token', JSON.stringify({ org: 'org_play', user: 'user_play' }));
    expect(given.status).toBe(200);
    const sessions = await fetch(`${stack.url}/openai/sessions`, { headers: { authorization: `Bearer ${given.body.token}` } });
    expect(sessions.status).toBe(200);

    expect(await post(stack.url, '/playground/token', JSON.stringify({ org: 'org_play', user: 'user_play' }), 'attacker.example:3000')).toMatchObject({ status: 403, body: { code: 'forbidden' } });
    expect(await post(stack.url, '/playground/token', JSON.stringify({ org: 'not an org', user: 'user_play' }))).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
    expect(await post(stack.url, '/playground/token', '{not json')).toMatchObject({ status: 400, body: { code: 'invalid_request' } });
  });
});

describe('with a Clerk key of the server’s own', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  }, 30_000);
  afterAll(async () => api?.close());

  it('gives no development tokens: the page asks for a real one', async () => {
    expect((await fetch(`${api.url}/playground/config`).then((r) => r.json()))).toEqual({ devTokens: false });
    expect(await post(api.url, '/playground/token', JSON.stringify({ org: 'org_play', user: 'user_play' }))).toMatchObject({ status: 404 });
  });
});
