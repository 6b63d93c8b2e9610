import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTES } from '../../shared/contract/routes.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { buildBundles } from '../../bin/tools/bundles.js';
import { client, PROJECT_ROOT } from '../helpers/local-api.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';

/**
 * What deploys is what runs: the bundles the stack would upload (ES module builds of packages,
 * minified, the AWS SDK inside) serve the API behind the local gateway and answer jobs from the
 * local queues, in a plain Node process, end to end.
 */
describe('the deployable bundles', () => {
  const keys = makeKeys();
  let stub: StubOpenAI;
  let bundleDir: string;
  let child: ChildProcess;
  let output = '';
  let url: string;

  beforeAll(async () => {
    stub = await startStubOpenAI();
    bundleDir = await mkdtemp(join(tmpdir(), 'bundle-run-'));
    await buildBundles(bundleDir, [...ROUTES, ...WORKERS].map((handler) => handler.entry));
    child = spawn(join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), ['test/helpers/bundled-stack.ts', bundleDir], {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        CLERK_JWT_KEY: keys.publicKeyPem,
        org_bundled_OPENAI_API_KEY: 'sk-bundled',
        org_bundled_OPENAI_BASE_URL: stub.url,
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const deadline = Date.now() + 30_000;
    while (!/listening on (http:\/\/\S+)/.test(output)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the bundled stack did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await stub?.close();
    if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
  });

  it('serve sessions, asks, tasks and messages, and answer through the bundled worker', async () => {
    const doctor = client(url, await mintToken(keys, { org: 'org_bundled', user: 'user_doc' }));
    const session = await doctor.post('/openai/sessions', { name: 'Bundled', system_prompt: 'Be brief.' });
    expect(session.status).toBe(201);
    const id = session.body.session_id;

    const asked = await doctor.post(`/openai/sessions/${id}/ask`, { message: 'Hello from a bundle' }, { 'idempotency-key': 'b-1' });
    expect(asked.status).toBe(202);
    const task = await doctor.post(`/openai/sessions/${id}/ctx`, { task: 'Reply with JSON', history: [] });
    expect(task.status).toBe(202);

    const until = async (path: string, done: (body: any) => boolean) => {
      for (let i = 0; i < 300; i++) {
        const answer = await doctor.get(path);
        if (done(answer.body)) return answer.body;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`${path} never finished:\n${output}`);
    };
    const answer = await until(`/openai/sessions/${id}/messages/${asked.body.message_id}`, (body) => body.status === 'COMPLETED' || body.status === 'FAILED');
    expect(answer).toMatchObject({ status: 'COMPLETED', content: 'Answer to "Hello from a bundle" (2 messages)', model: 'gpt-4o' });
    const result = await until(`/openai/sessions/${id}/ctx/${task.body.ctx_id}`, (body) => body.status === 'done' || body.status === 'error');
    expect(result.status).toBe('done');
    expect(stub.completions().map((request) => request.apiKey)).toEqual(['sk-bundled', 'sk-bundled']);

    expect(await doctor.get(`/openai/sessions?include_last=true`)).toMatchObject({ status: 200, body: { items: [{ session_id: id, message_count: 2 }] } });
    expect(await doctor.get(`/openai/sessions/${id}/messages?order=asc`)).toMatchObject({ status: 200, body: { items: [{ role: 'user' }, { role: 'assistant' }] } });
    expect(await doctor.post(`/openai/sessions/${id}/ask`, { message: 'Hello from a bundle' }, { 'idempotency-key': 'b-1' })).toMatchObject({
      status: 202,
      body: asked.body,
    });
    expect(await doctor.post(`/openai/sessions/${id}/ask`, '{oops')).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
    expect(await client(url).get('/openai/sessions')).toMatchObject({ status: 401 });
    expect(await doctor.get('/nowhere')).toMatchObject({ status: 404, body: { code: 'route_not_found' } });
    expect(await doctor.delete(`/openai/sessions/${id}`)).toMatchObject({ status: 200, body: { deleted: true } });
  }, 60_000);
});
