import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';
import { client } from '../helpers/local-api.js';
import { npmStart } from '../helpers/npm-start.js';

/**
 * `npm start` killed with SIGKILL while asks and tasks wait for a slow model, then started again on
 * the same data directory: every accepted ask and task is answered, and new asks too. (The local
 * queue lives in memory; in AWS the queue is durable.)
 */
describe('npm start after a crash', () => {
  const keys = makeKeys();
  const dataDir = mkdtempSync(join(tmpdir(), 'ai-chat-crash-'));
  let stub: StubOpenAI;
  let child: ChildProcess | undefined;

  async function start(): Promise<string> {
    const started = await npmStart(['--port', '0', '--data-dir', dataDir], {
      CLERK_JWT_KEY: keys.publicKeyPem,
      CLERK_AUTHORIZED_PARTIES: '',
      org_crash_OPENAI_API_KEY: 'sk-crash',
      org_crash_OPENAI_BASE_URL: stub.url,
    });
    child = started.child;
    return started.url;
  }

  const kill = async () => {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    process.kill(-child!.pid!, 'SIGKILL');
    await exited;
  };

  beforeAll(async () => {
    stub = await startStubOpenAI();
  });
  afterAll(async () => {
    try {
      process.kill(-child!.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    await stub.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every accepted ask and task after a restart on the same data', async () => {
    stub.latency(60_000);
    let url = await start();
    let c = client(url, await mintToken(keys, { org: 'org_crash', user: 'user_crash' }));
    const sessions = [(await c.post('/openai/sessions', {})).body.session_id, (await c.post('/openai/sessions', {})).body.session_id];
    const asks: Array<[string, string]> = [];
    const tasks: Array<[string, string]> = [];
    for (const sessionId of sessions) {
      for (let i = 0; i < 2; i++) asks.push([sessionId, (await c.post(`/openai/sessions/${sessionId}/ask`, { message: `q${i}` })).body.message_id]);
      tasks.push([sessionId, (await c.post(`/openai/sessions/${sessionId}/ctx`, { task: 't' })).body.ctx_id]);
    }
    // Wait until a worker holds a claim (PROCESSING), then crash.
    for (let i = 0; i < 100 && stub.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stub.requests.length).toBeGreaterThan(0);
    await kill();

    stub.latency(0);
    url = await start();
    c = client(url, await mintToken(keys, { org: 'org_crash', user: 'user_crash' }));
    const newAsk = (await c.post(`/openai/sessions/${sessions[0]}/ask`, { message: 'after the crash' })).body.message_id as string;
    const finished = async (path: string, done: string[]) => {
      for (let i = 0; i < 600; i++) {
        const answer = await c.get(path);
        if (done.includes(answer.body.status)) return answer.body.status as string;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return 'still waiting';
    };
    const statuses = await Promise.all([
      ...[...asks, [sessions[0]!, newAsk] as [string, string]].map(([sessionId, id]) => finished(`/openai/sessions/${sessionId}/messages/${id}`, ['COMPLETED', 'FAILED'])),
      ...tasks.map(([sessionId, id]) => finished(`/openai/sessions/${sessionId}/ctx/${id}`, ['done', 'error'])),
    ]);
    expect(statuses).toEqual([...asks.map(() => 'COMPLETED'), 'COMPLETED', ...tasks.map(() => 'done')]);
  }, 120_000);
});
