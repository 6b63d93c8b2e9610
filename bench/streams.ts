/**
 * `npm run bench` (third part): streamed answers on the local stack. A stub model streams answers
 * word by word with a fixed gap; a client opens the answer's stream right after asking and reads it
 * to `done`. Reported: from the model's first word to the client's first delta and from its last
 * word to `done` (p50 and max), the progress writes per answer against its length and their write units
 * (from the sizes of the progress items stored: each part, and the head it updates), and
 * the reads a streamed answer costs (the stream's and the worker's), counted by the emulator.
 *
 * Everything shares one process: the latencies are relative (compare runs on one machine); the
 * counts of writes and reads do not depend on the machine.
 */
import { availableParallelism, cpus } from 'node:os';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { serverSentEvents } from '../bin/local/http-client.js';
import type { LocalStack } from '../bin/local/local-stack.js';
import type { StubOpenAI } from '../bin/local/stub-openai.js';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.CLERK_TELEMETRY_DISABLED = '1';

const ORG = 'org_bench_streams';
const TOKEN_GAP_MS = 20;
/** Answers of these many words, each asked ASKS_PER_LENGTH times, one at a time. */
const LENGTHS = [25, 100, 300];
const ASKS_PER_LENGTH = 5;
const WATCHDOG_MS = 120_000;

/**
 * An item's size as DynamoDB bills it (attribute names plus values: strings in UTF-8 bytes, numbers
 * about one byte per two digits plus one): what a write of it costs, one unit per started KB.
 */
function itemBytes(item: Record<string, unknown>): number {
  const valueBytes = (value: unknown): number =>
    typeof value === 'string' ? Buffer.byteLength(value) : typeof value === 'number' ? Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').length / 2) + 1 : 1;
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + valueBytes(value), 0);
}
const writeUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));

const ascending = (values: number[]) => [...values].sort((a, b) => a - b);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Reads a stream to its end: when the first delta and `done` arrived, and the text of the deltas. */
async function readStream(url: string, token: string): Promise<{ firstDeltaAt: number; doneAt: number; text: string }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`stream: HTTP ${response.status} ${await response.text()}`);
  let text = '';
  let firstDeltaAt = 0;
  for await (const event of serverSentEvents(response.body!)) {
    if (event.event === 'delta') {
      firstDeltaAt ||= Date.now();
      text += JSON.parse(event.data!).content;
    }
    if (event.event === 'done') return { firstDeltaAt, doneAt: Date.now(), text };
  }
  throw new Error('the stream ended without done');
}

const watchdog = setTimeout(() => {
  console.error(`streams benchmark: still running after ${WATCHDOG_MS / 1000} s, giving up`);
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
  const started = performance.now();
  stub = await startStubOpenAI();
  stub.tokenGap(TOKEN_GAP_MS);
  Object.assign(process.env, { [`${ORG}_OPENAI_API_KEY`]: 'sk-bench', [`${ORG}_OPENAI_BASE_URL`]: stub.url, ORG_RATE_LIMIT_PER_MINUTE: '1000000' });
  const keys = makeKeys();
  process.env.CLERK_JWT_KEY = keys.publicKeyPem;
  delete process.env.CLERK_AUTHORIZED_PARTIES;
  stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, workerThread: true });
  const token = await mintToken(keys, { org: ORG, user: 'user_bench', expiresIn: 600 });
  const c = client(stack.url, token);
  const counts = stack.dynamo.requestCounts;
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack.dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
  /** The write units of an answer's progress, from its stored items: each part once, and the head once per part (it is updated with each). */
  const progressWriteUnits = async (sessionId: string, messageId: string): Promise<number> => {
    const { Items = [] } = await doc.send(
      new QueryCommand({
        TableName: process.env.TABLE_NAME!,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :live)',
        ExpressionAttributeValues: { ':pk': `ORG#${ORG}#SESSION#${sessionId}`, ':live': `LIVE#${messageId}` },
      }),
    );
    const head = Items.find((item) => item.sk === `LIVE#${messageId}`);
    const parts = Items.filter((item) => item !== head);
    return parts.reduce((sum, part) => sum + writeUnits(itemBytes(part)), 0) + parts.length * writeUnits(head ? itemBytes(head) : 0);
  };

  const rows: string[][] = [['answer words', 'chars', 'first word -> first delta p50 / max ms', 'last word -> done p50 / max ms', 'progress writes', 'write units', 'reads (stream + worker)']];
  for (const words of LENGTHS) {
    stub.reply(() => Array.from({ length: words }, (_, i) => `word${i}`).join(' '));
    const firstGaps: number[] = [];
    const lastGaps: number[] = [];
    const writes: number[] = [];
    const units: number[] = [];
    const reads: number[] = [];
    let chars = 0;
    for (let i = 0; i < ASKS_PER_LENGTH; i++) {
      const sessionId = (await c.post('/openai/sessions', { name: 'bench streams' })).body.session_id;
      const before = new Map(counts);
      const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: `Count to ${words}` });
      if (asked.status !== 202) throw new Error(`ask: HTTP ${asked.status}`);
      const streamed = await readStream(`${stack.url}/openai/sessions/${sessionId}/messages/${asked.body.message_id}/stream`, token);
      const call = stub.completions().at(-1)!;
      const times = stub.tokenTimes.get(call)!;
      firstGaps.push(streamed.firstDeltaAt - times[0]!);
      lastGaps.push(streamed.doneAt - times.at(-1)!);
      chars = streamed.text.length;
      const delta = (operation: string) => (counts.get(operation) ?? 0) - (before.get(operation) ?? 0);
      // Progress parts are the only PutItems of an ask (its two messages go in one BatchWriteItem).
      writes.push(delta('PutItem'));
      units.push(await progressWriteUnits(sessionId, asked.body.message_id));
      reads.push(delta('GetItem') + delta('Query'));
    }
    const f = ascending(firstGaps);
    const l = ascending(lastGaps);
    rows.push([
      String(words),
      String(chars),
      `${percentile(f, 50).toFixed(0)} / ${f.at(-1)!.toFixed(0)}`,
      `${percentile(l, 50).toFixed(0)} / ${l.at(-1)!.toFixed(0)}`,
      mean(writes).toFixed(1),
      mean(units).toFixed(1),
      mean(reads).toFixed(1),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(
    [
      'AI chat backend: streamed answers (local stack, stub model streaming one word every ' + `${TOKEN_GAP_MS} ms)`,
      `machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim()}), node ${process.version}, ${process.platform}/${process.arch}`,
      `${ASKS_PER_LENGTH} asks per answer length, one at a time, each read through its stream from right after the ask`,
      '',
      ...rows.map((row) => row.map((cell, column) => (column ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ')),
      '',
      `run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ].join('\n'),
  );
} finally {
  await stack?.close();
  await stub?.close();
}
process.exit(0);
