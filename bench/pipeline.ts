/**
 * `npm run bench`: figures of the local pipeline as `npm start` runs it (the local gateway, the API
 * handlers and local-aws-sqs in the main thread, dynalite in a thread of its own, the pollers and
 * the ask worker in another) answering asks through a zero-latency stub model. Everything runs on
 * 127.0.0.1 and in memory; every phase is bounded by a count and a time, the whole run by a
 * watchdog, and the process exits when done.
 *
 * The emulators share the machine's CPU with the handlers and with this client, so the figures
 * are relative: for spotting regressions between commits on the same machine, not AWS latencies.
 */
import { WORKERS } from '../shared/contract/workers.js';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { LocalStack } from '../bin/local/local-stack.js';
import type { StubOpenAI } from '../bin/local/stub-openai.js';

// Set before the stack and the handlers are loaded (below, by dynamic import), as `npm start` and the tests do.
process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.CLERK_TELEMETRY_DISABLED = '1';

const ORG = 'org_bench';
/** Pause between two polls of a waiting message (after the previous GET's answer). */
const POLL_MS = 2;
/** A single ask that takes longer than this fails the run. */
const ASK_TIMEOUT_MS = 15_000;
/** Turns per session before a client starts a new one, so stored histories stay short and alike. */
const TURNS_PER_SESSION = 20;
const WARMUP_ASKS = 10;
const LATENCY_ASKS = 100;
const LATENCY_MAX_MS = 20_000;
const GET_SAMPLES = 300;
const THROUGHPUT_MS = 4_000;
const THROUGHPUT_MAX_ASKS_PER_CLIENT = 1_000;
const CONCURRENCIES = [1, 8, 32];
const COUNTED_ASKS = 50;
const COUNTED_MAX_MS = 15_000;
const IDLE_WINDOW_MS = 3_000;
/** The pollers the stack runs, one per queue consumer (shared/contract/workers.ts); all but the ask poller idle during an ask. */
const POLLERS = WORKERS.length;
/** The whole run is abandoned (exit 1) past this. */
const WATCHDOG_MS = 85_000;

type Client = ReturnType<typeof import('../bin/local/http-client.js').client>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function expectStatus(answer: { status: number; body: unknown }, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
}

async function newSession(c: Client): Promise<string> {
  const created = await c.post('/openai/sessions', { name: 'bench' });
  expectStatus(created, 201, 'create session');
  return created.body.session_id as string;
}

interface AskResult {
  /** From sending the ask to the answer of the GET that showed COMPLETED. */
  ms: number;
  /** GETs made until COMPLETED. */
  polls: number;
}

/**
 * How a client waits for its answer: `poll`, a GET every POLL_MS after the previous one's answer
 * (the finest a polling client can see); `wait`, a GET with `?wait=20`, which the server answers
 * when the answer has finished (the contract's way to wait without polling).
 */
type Waiting = 'poll' | 'wait';

/** Asks, then waits for the answer (see Waiting) until it is COMPLETED. */
async function askAndWait(c: Client, sessionId: string, message: string, waiting: Waiting = 'poll'): Promise<AskResult> {
  const started = performance.now();
  const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message });
  expectStatus(asked, 202, 'ask');
  const path = `/openai/sessions/${sessionId}/messages/${asked.body.message_id}${waiting === 'wait' ? '?wait=20' : ''}`;
  for (let polls = 1; ; polls++) {
    const answer = await c.get(path);
    expectStatus(answer, 200, 'get message');
    if (answer.body.status === 'COMPLETED') return { ms: performance.now() - started, polls };
    if (answer.body.status === 'FAILED') throw new Error(`ask failed: ${answer.body.content}`);
    if (performance.now() - started > ASK_TIMEOUT_MS) throw new Error(`ask still ${answer.body.status} after ${ASK_TIMEOUT_MS} ms`);
    if (waiting === 'poll') await sleep(POLL_MS);
  }
}

/** One client: its own sessions (a new one every TURNS_PER_SESSION asks), one question at a time. */
class Asker {
  private sessionId: string | undefined;
  private turns = 0;
  constructor(
    private readonly c: Client,
    private readonly waiting: Waiting = 'poll',
  ) {}
  async ask(message: string): Promise<AskResult> {
    if (!this.sessionId || this.turns >= TURNS_PER_SESSION) {
      this.sessionId = await newSession(this.c);
      this.turns = 0;
    }
    this.turns++;
    return askAndWait(this.c, this.sessionId, message, this.waiting);
  }
}

/** CPU time of the whole process (every thread: main, dynalite's, the workers', GC and libuv's) since `since`, in ms. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

const snapshot = (counts: ReadonlyMap<string, number>) => new Map(counts);

function difference(after: ReadonlyMap<string, number>, before: ReadonlyMap<string, number>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [operation, count] of after) {
    const delta = count - (before.get(operation) ?? 0);
    if (delta) result.set(operation, delta);
  }
  return result;
}

const total = (counts: ReadonlyMap<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);

/** Waits (bounded) until an emulator has served `target` requests of `operation`: watched in process, no HTTP. */
async function waitForCount(counts: ReadonlyMap<string, number>, operation: string, target: number): Promise<void> {
  const deadline = performance.now() + ASK_TIMEOUT_MS;
  while ((counts.get(operation) ?? 0) < target) {
    if (performance.now() > deadline) throw new Error(`waited ${ASK_TIMEOUT_MS} ms for ${operation} #${target}`);
    await sleep(1);
  }
}

type Row = { title: string } | { metric: string; value: string };
const rows: Row[] = [];
const row = (metric: string, value: string) => rows.push({ metric, value });
const section = (title: string) => rows.push({ title });
const fixed = (value: number, digits = 1) => value.toFixed(digits);
const ms = (value: number) => `${fixed(value)} ms`;
const loads = () => loadavg().map((load) => load.toFixed(2)).join(' ');

function printTable(): void {
  const metricWidth = Math.max(46, ...rows.map((r) => ('metric' in r ? r.metric.length + 2 : 0)));
  const valueWidth = Math.max(14, ...rows.map((r) => ('value' in r ? r.value.length : 0)));
  console.log(`${'metric'.padEnd(metricWidth)}${'value'.padStart(valueWidth)}`);
  for (const r of rows) console.log('title' in r ? r.title : `${r.metric.padEnd(metricWidth)}${r.value.padStart(valueWidth)}`);
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    console.error(`bench: still running after ${WATCHDOG_MS / 1000} s, giving up`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const { client } = await import('../bin/local/http-client.js');
  const { startLocalStack } = await import('../bin/local/local-stack.js');
  const { makeKeys, mintToken } = await import('../bin/local/tokens.js');
  const { startStubOpenAI } = await import('../bin/local/stub-openai.js');
  const { PROJECT_ROOT } = await import('../shared/contract/project.js');

  let stub: StubOpenAI | undefined;
  let stack: LocalStack | undefined;
  try {
    const runStarted = performance.now();
    const loadBefore = loads();
    stub = await startStubOpenAI();
    stub.latency(0);
    stub.reply(() => 'OK, noted.');
    Object.assign(process.env, {
      [`${ORG}_OPENAI_API_KEY`]: 'sk-bench',
      [`${ORG}_OPENAI_BASE_URL`]: stub.url,
      ORG_RATE_LIMIT_PER_MINUTE: '1000000',
      // All clients are one organization: its cap in flight (10 by default) would bind at 32 clients,
      // which is what bench/fairness.ts measures. Here the places are still taken and given back.
      ORG_MAX_IN_FLIGHT: '64',
    });
    // Tokens signed with keys of this run's own, as a client's Clerk instance would.
    const keys = makeKeys();
    process.env.CLERK_JWT_KEY = keys.publicKeyPem;
    delete process.env.CLERK_AUTHORIZED_PARTIES;
    stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, workerThread: true });
    const stackMs = performance.now() - runStarted;
    const dynamoCounts = stack.dynamo.requestCounts;
    const sqsCounts = stack.sqs.requestCounts;
    const clients: Client[] = [];
    for (let index = 0; index < Math.max(...CONCURRENCIES); index++) {
      clients.push(client(stack.url, await mintToken(keys, { org: ORG, user: `user_${index}`, expiresIn: 600 })));
    }
    const first = clients[0]!;

    // Warm-up: module loads (each handler is imported on its first request, the worker on its first batch), SDK clients, JIT.
    {
      const warm = new Asker(first);
      for (let index = 0; index < WARMUP_ASKS; index++) await warm.ask(`warm-up ${index}`);
    }

    // 1. ask -> COMPLETED, one client.
    const latencies: number[] = [];
    const pollCounts: number[] = [];
    {
      const asker = new Asker(first);
      const stopAt = performance.now() + LATENCY_MAX_MS;
      for (let index = 0; index < LATENCY_ASKS && performance.now() < stopAt; index++) {
        const result = await asker.ask(`question ${index}`);
        latencies.push(result.ms);
        pollCounts.push(result.polls);
      }
    }
    const sortedLatencies = ascending(latencies);
    section(`ask -> COMPLETED, 1 client, ${latencies.length} asks: POST /ask, then GET the message every ${POLL_MS} ms`);
    section(`  (pause after each GET's answer) until COMPLETED; includes that polling granularity`);
    row('  latency p50', ms(percentile(sortedLatencies, 50)));
    row('  latency p99', ms(percentile(sortedLatencies, 99)));
    row('  GETs per ask until COMPLETED (mean)', fixed(mean(pollCounts)));

    // 2. GET one completed message.
    const getLatencies: number[] = [];
    let getDynamo: Map<string, number>;
    {
      const sessionId = await newSession(first);
      const asked = await first.post(`/openai/sessions/${sessionId}/ask`, { message: 'to read' });
      expectStatus(asked, 202, 'ask');
      const path = `/openai/sessions/${sessionId}/messages/${asked.body.message_id}`;
      for (let tries = 0; (await first.get(path)).body.status !== 'COMPLETED'; tries++) {
        if (tries > ASK_TIMEOUT_MS / 10) throw new Error('the message to read never completed');
        await sleep(10);
      }
      const dynamoBefore = snapshot(dynamoCounts);
      for (let index = 0; index < GET_SAMPLES; index++) {
        const started = performance.now();
        const answer = await first.get(path);
        getLatencies.push(performance.now() - started);
        expectStatus(answer, 200, 'get message');
      }
      getDynamo = difference(dynamoCounts, dynamoBefore);
    }
    const sortedGets = ascending(getLatencies);
    section(`GET /messages/{id} of a COMPLETED message, 1 client, ${GET_SAMPLES} sequential GETs`);
    row('  latency p50', ms(percentile(sortedGets, 50)));
    row('  latency p99', ms(percentile(sortedGets, 99)));
    row('  DynamoDB calls per GET', [...getDynamo].map(([op, n]) => `${op} ${fixed(n / GET_SAMPLES, 2)}`).join(', ') || '0');

    // 3. Throughput: N clients, each in its own sessions, ask -> wait until COMPLETED -> next ask.
    for (const waiting of ['poll', 'wait'] as const) {
    section(
      waiting === 'poll'
        ? `asks per second: N clients, each: ask -> GET every ${POLL_MS} ms until COMPLETED -> next ask, ${THROUGHPUT_MS / 1000} s`
        : `asks per second: N clients, each: ask -> GET ?wait=20 until COMPLETED -> next ask, ${THROUGHPUT_MS / 1000} s`,
    );
    section(`  (each client starts a new session every ${TURNS_PER_SESSION} asks, inside the time; CPU = whole process)`);
    for (const concurrency of CONCURRENCIES) {
      const stopAt = performance.now() + THROUGHPUT_MS;
      const started = performance.now();
      const cpuBefore = process.cpuUsage();
      const perClient = await Promise.all(
        clients.slice(0, concurrency).map(async (c, clientIndex) => {
          const asker = new Asker(c, waiting);
          const results: AskResult[] = [];
          for (let index = 0; index < THROUGHPUT_MAX_ASKS_PER_CLIENT && performance.now() < stopAt; index++) {
            results.push(await asker.ask(`client ${clientIndex} question ${index}`));
          }
          return results;
        }),
      );
      const elapsed = performance.now() - started;
      const cpu = cpuMs(cpuBefore);
      const results = perClient.flat();
      const sorted = ascending(results.map((result) => result.ms));
      const label = `  concurrency ${String(concurrency).padStart(2)}:`;
      row(`${label} completed asks/s`, fixed(results.length / (elapsed / 1000)));
      row(`${label} ask -> COMPLETED p50 / p99`, `${fixed(percentile(sorted, 50))} / ${fixed(percentile(sorted, 99))} ms`);
      row(`${label} GETs per ask / CPU per ask`, `${fixed(mean(results.map((result) => result.polls)))} / ${fixed(cpu / results.length)} ms`);
    }
    }

    // 4. DynamoDB and SQS calls per ask: sequential asks, each waited for in process (the worker's
    //    DeleteMessageBatch seen by the SQS emulator), so no polling GETs are counted.
    const countSessions: string[] = [];
    for (let index = 0; index < COUNTED_ASKS / 10; index++) countSessions.push(await newSession(first));
    await sleep(200);
    const dynamoBefore = snapshot(dynamoCounts);
    const sqsBefore = snapshot(sqsCounts);
    const countedStarted = performance.now();
    const countedCpu = process.cpuUsage();
    const asked: Array<{ sessionId: string; messageId: string }> = [];
    for (let index = 0; index < COUNTED_ASKS && performance.now() - countedStarted < COUNTED_MAX_MS; index++) {
      const sessionId = countSessions[index % countSessions.length]!;
      const deletes = sqsCounts.get('DeleteMessageBatch') ?? 0;
      const answer = await first.post(`/openai/sessions/${sessionId}/ask`, { message: `counted ${index}` });
      expectStatus(answer, 202, 'ask');
      asked.push({ sessionId, messageId: answer.body.message_id });
      await waitForCount(sqsCounts, 'DeleteMessageBatch', deletes + 1);
    }
    const windowMs = performance.now() - countedStarted;
    const cpuPerAsk = cpuMs(countedCpu) / asked.length;
    const dynamoUsed = difference(dynamoCounts, dynamoBefore);
    const sqsUsed = difference(sqsCounts, sqsBefore);
    // Idle: nothing but the pollers' long polls.
    const idleSqsBefore = snapshot(sqsCounts);
    const idleDynamoBefore = snapshot(dynamoCounts);
    await sleep(IDLE_WINDOW_MS);
    const idleSqs = difference(sqsCounts, idleSqsBefore);
    const idleDynamo = difference(dynamoCounts, idleDynamoBefore);
    // The single final check, after the counts were taken.
    for (const { sessionId, messageId } of asked) {
      const answer = await first.get(`/openai/sessions/${sessionId}/messages/${messageId}`);
      if (answer.body.status !== 'COMPLETED') throw new Error(`counted ask ${messageId} is ${answer.body.status}`);
    }
    const n = asked.length;
    const per = (count: number) => fixed(count / n, 2);
    section(`calls per ask: ${n} sequential asks over ${countSessions.length} sessions (POST /ask and the worker's job), each`);
    section(`  waited for in process (the worker's DeleteMessageBatch), so no polling GETs are counted`);
    row('  ask -> job done, no polling (mean)', ms(windowMs / n));
    row('  CPU per ask (whole process)', ms(cpuPerAsk));
    const dynamoOps = new Set(['GetItem', 'Query', 'PutItem', 'UpdateItem', 'BatchWriteItem', 'DeleteItem', ...dynamoUsed.keys()]);
    for (const op of dynamoOps) row(`  DynamoDB ${op}`, per(dynamoUsed.get(op) ?? 0));
    row('  DynamoDB total', per(total(dynamoUsed)));
    const sqsOps = new Set(['SendMessage', 'ReceiveMessage', 'DeleteMessageBatch', 'ChangeMessageVisibility', ...sqsUsed.keys()]);
    for (const op of sqsOps) row(`  SQS ${op}${op === 'ReceiveMessage' ? ' (all pollers *)' : ''}`, per(sqsUsed.get(op) ?? 0));
    row('  SQS total', per(total(sqsUsed)));
    const idleReceivesPerSecond = (idleSqs.get('ReceiveMessage') ?? 0) / (IDLE_WINDOW_MS / 1000);
    // While asks run, the ask poller is busy; the other pollers keep long-polling at the idle rate.
    const otherIdlePerAsk = (idleReceivesPerSecond * ((POLLERS - 1) / POLLERS) * (windowMs / 1000)) / n;
    row(`  * idle ReceiveMessage, ${POLLERS} pollers, nothing queued`, `${fixed(idleReceivesPerSecond)}/s`);
    row('  * of which other pollers\' idle polls per ask (est.)', per(otherIdlePerAsk * n));
    const idleOther = [...idleDynamo, ...idleSqs].filter(([op]) => op !== 'ReceiveMessage');
    if (idleOther.length) row('  idle calls other than ReceiveMessage', idleOther.map(([op, count]) => `${op} ${count}`).join(', '));

    console.log('AI chat backend: local pipeline benchmark (stub model, zero latency)');
    console.log(`machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim() ?? 'unknown'}), node ${process.version}, ${process.platform}/${process.arch}`);
    console.log(`load average before / after: ${loadBefore} / ${loads()}`);
    console.log(`gateway, API handlers, local-aws-sqs and these clients in the main thread, dynalite in a thread, pollers and worker in another`);
    console.log(`(stack up in ${fixed(stackMs, 0)} ms); ${WARMUP_ASKS} warm-up asks first`);
    console.log('');
    printTable();
    console.log('');
    console.log(`run time ${fixed((performance.now() - runStarted) / 1000)} s`);
  } finally {
    await stack?.close();
    await stub?.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('bench failed:', error);
    process.exit(1);
  },
);
