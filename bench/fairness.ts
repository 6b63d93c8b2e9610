/**
 * `npm run bench` (fairness): on the local stack, with a stub model that takes a second an answer,
 * one organization floods 80 asks over 40 sessions; a moment later another organization asks once.
 * Reported: how long the quiet organization's ask takes to complete, how long the flood takes, and
 * the most model calls of the flooding organization at once (its cap in flight is ORG_MAX_IN_FLIGHT,
 * 10 by default).
 */
import { availableParallelism, cpus } from 'node:os';
import type { LocalStack } from '../bin/local/local-stack.js';
import type { StubOpenAI } from '../bin/local/stub-openai.js';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.CLERK_TELEMETRY_DISABLED = '1';

const MODEL_MS = 1000;
const SESSIONS = 40;
const ASKS_PER_SESSION = 2;
const WATCHDOG_MS = 120_000;

const watchdog = setTimeout(() => {
  console.error(`fairness benchmark: still running after ${WATCHDOG_MS / 1000} s, giving up`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();

const { client } = await import('../bin/local/http-client.js');
const { startLocalStack } = await import('../bin/local/local-stack.js');
const { makeKeys, mintToken } = await import('../bin/local/tokens.js');
const { startStubOpenAI } = await import('../bin/local/stub-openai.js');
const { PROJECT_ROOT } = await import('../shared/contract/project.js');

/** Polls a message until it has finished; answers when it did (ms since the epoch). */
async function finishedAt(c: ReturnType<typeof client>, sessionId: string, messageId: string): Promise<number> {
  for (;;) {
    const answer = await c.get(`/openai/sessions/${sessionId}/messages/${messageId}?wait=20`);
    if (answer.status === 200 && answer.body.status !== 'PENDING' && answer.body.status !== 'PROCESSING') return Date.now();
  }
}

let stub: StubOpenAI | undefined;
let stack: LocalStack | undefined;
try {
  stub = await startStubOpenAI();
  stub.latency(MODEL_MS);
  Object.assign(process.env, {
    org_flood_OPENAI_API_KEY: 'sk-flood',
    org_flood_OPENAI_BASE_URL: stub.url,
    org_quiet_OPENAI_API_KEY: 'sk-quiet',
    org_quiet_OPENAI_BASE_URL: stub.url,
    ORG_RATE_LIMIT_PER_MINUTE: '100000',
  });
  const keys = makeKeys();
  process.env.CLERK_JWT_KEY = keys.publicKeyPem;
  delete process.env.CLERK_AUTHORIZED_PARTIES;
  stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, workerThread: true });
  const flood = client(stack.url, await mintToken(keys, { org: 'org_flood', user: 'user_flood', expiresIn: 600 }));
  const quiet = client(stack.url, await mintToken(keys, { org: 'org_quiet', user: 'user_quiet', expiresIn: 600 }));
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, async () => (await flood.post('/openai/sessions', {})).body.session_id as string));
  const quietSession = (await quiet.post('/openai/sessions', {})).body.session_id as string;

  const floodStarted = Date.now();
  const asked = (
    await Promise.all(
      sessions.flatMap((sessionId) =>
        Array.from({ length: ASKS_PER_SESSION }, async (_, turn) => ({ sessionId, messageId: (await flood.post(`/openai/sessions/${sessionId}/ask`, { message: `flood ${turn}` })).body.message_id as string })),
      ),
    )
  ).filter((ask) => ask.messageId);
  const quietAsked = Date.now();
  const quietAsk = (await quiet.post(`/openai/sessions/${quietSession}/ask`, { message: 'quiet' })).body.message_id as string;
  const quietDone = await finishedAt(quiet, quietSession, quietAsk);
  const floodDone = Math.max(...(await Promise.all(asked.map(({ sessionId, messageId }) => finishedAt(flood, sessionId, messageId)))));

  const floodCalls = stub.requests.filter((request) => request.apiKey === 'sk-flood');
  const edges = floodCalls.flatMap((call) => [[call.receivedAt, 1], [call.endedAt ?? Infinity, -1]] as Array<[number, number]>).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, step] of edges) most = Math.max(most, (now += step));
  console.log(
    [
      `AI chat backend: fairness between organizations (local stack, stub model ${MODEL_MS} ms an answer)`,
      `machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim()}), node ${process.version}`,
      `one organization asks ${asked.length} times over ${SESSIONS} sessions at once; then another asks once`,
      '',
      `  the other organization's ask, asked -> finished            ${((quietDone - quietAsked) / 1000).toFixed(1)} s`,
      `  the flood, first ask -> last finished                       ${((floodDone - floodStarted) / 1000).toFixed(1)} s`,
      `  the flooding organization's model calls at once (most)      ${most}`,
    ].join('\n'),
  );
} finally {
  await stack?.close();
  await stub?.close();
}
process.exit(0);
