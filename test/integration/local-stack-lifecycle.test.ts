/**
 * The local stack's own life: a start that fails leaves nothing running, and a part lost while it
 * runs (here the workers' thread, crashed by a worker) is reported, as `npm start` stops on it.
 */
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack } from '../../bin/local/local-stack.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { client, PROJECT_ROOT, startTestApi } from '../helpers/local-api.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** This process's open sockets (its threads' too: they share its descriptors). */
const sockets = () =>
  new Set(
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return target.startsWith('socket:') ? [target] : [];
      } catch {
        return [];
      }
    }),
  );

it('closes what it had started when a later part fails to start (the port is taken)', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const before = sockets();
  try {
    await expect(startLocalStack({ root: PROJECT_ROOT, port: (taken.address() as AddressInfo).port, inMemory: true, workerThread: true })).rejects.toThrow(/EADDRINUSE/);
    // The store's and the queues' servers (and the connections to them) are gone.
    let left: string[] = [];
    for (let tries = 0; tries < 40; tries++) {
      left = [...sockets()].filter((socket) => !before.has(socket));
      if (!left.length) break;
      await sleep(50);
    }
    expect(left).toEqual([]);
  } finally {
    taken.close();
  }
}, 30_000);

it('reports its workers’ thread ending while it runs, with the reason', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'crashing-worker-'));
  const crashing = join(directory, 'crashing-worker.mjs');
  // A handler whose callback throws outside any promise: an uncaught error, which ends its thread.
  writeFileSync(crashing, "export const handler = async () => { setTimeout(() => { throw new Error('the ask worker crashed'); }); return { batchItemFailures: [] }; };\n");
  const askWorker = WORKERS.find((worker) => worker.queue === 'ask' && !worker.deadLetter)!;
  const lost: string[] = [];
  const api = await startTestApi({
    workerThread: true,
    entryFile: (entry) => (entry === askWorker.entry ? crashing : join(PROJECT_ROOT, entry)),
    onLost: (reason) => lost.push(reason),
  });
  try {
    const c = client(api.url, await api.token({ org: 'org_crash', user: 'user_crash' }));
    const sessionId = (await c.post('/openai/sessions', {})).body.session_id as string;
    expect((await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'Crash it' })).status).toBe(202);
    for (let tries = 0; tries < 100 && !lost.length; tries++) await sleep(50);
    expect(lost).toEqual([expect.stringMatching(/^the workers' thread ended \(exit code 1: Error: the ask worker crashed/)]);
  } finally {
    await api.close();
    rmSync(directory, { recursive: true, force: true });
  }
  // Closed on purpose: not a loss.
  expect(lost).toHaveLength(1);
}, 30_000);

it('closes once: a second close (a signal while it stops) waits for the first to finish', async () => {
  const api = await startTestApi({ workerThread: true });
  let firstClosed = false;
  const first = api.close().then(() => {
    firstClosed = true;
  });
  await api.close();
  expect(firstClosed).toBe(true);
  await first;
}, 30_000);
