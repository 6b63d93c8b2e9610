/**
 * `npm run bench` (cost): what 1,000 asks cost in AWS, tokens excluded, computed from what one ask
 * does on the local stack (the same handler modules that deploy) with a model that streams a
 * 100-word answer over 10 seconds. Measured: the AWS calls an ask makes (table and queue calls counted by the emulators)
 * and how long its functions run (the API call, and the worker's invocation, alone or in a batch of
 * ten as a busy queue hands it over). Priced with the public on-demand prices below (us-east-1,
 * arm64, checked 2026-12). With `--write`, the table replaces the README's between its cost markers.
 *
 * Not counted: fixed monthly costs (the WAF's web ACL and rules, alarms, KMS key, idle queue polls),
 * CloudWatch Logs (a few short lines an ask), data transfer, and the client's own reads (see the
 * rows after the table: polling, `?wait`, a stream).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.CLERK_TELEMETRY_DISABLED = '1';

const MODEL_MS = 10_000;
const BATCH = 10;
const ASKS = 1000;

/** Prices in USD (us-east-1, arm64, on-demand). */
const PRICE = {
  httpApiRequest: 1.0 / 1e6,
  cloudFrontRequest: 0.01 / 1e4,
  wafRequest: 0.6 / 1e6,
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000133334,
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  secretsManagerCall: 0.05 / 1e4,
};
/** Memory of the functions, GB (infra/api-function.ts; workers from shared/contract/workers.ts). */
const API_GB = 0.5;
/** Lambda bills by the millisecond; a run shorter than 1 ms is billed 1 ms. */
const billedSeconds = (ms: number) => Math.max(1, Math.ceil(ms)) / 1000;

const { startLocalStack } = await import('../bin/local/local-stack.js');
const { startStubOpenAI } = await import('../bin/local/stub-openai.js');
const { makeKeys, mintToken } = await import('../bin/local/tokens.js');
const { client } = await import('../bin/local/http-client.js');
const { lambdaContext } = await import('../bin/local/lambda-context.js');
const { PROJECT_ROOT } = await import('../shared/contract/project.js');
const { WORKERS } = await import('../shared/contract/workers.js');
const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
const { toRecord } = await import('../bin/local/poller.js');

const workerGb = WORKERS.find((worker) => worker.name === 'AskWorker')!.memoryMb / 1024;
const stub = await startStubOpenAI();
// A streamed answer of 100 words over the 10 seconds, as a model writes one.
const WORDS = 100;
stub.reply(() => Array.from({ length: WORDS }, (_, i) => `word${i}`).join(' '));
stub.tokenGap(MODEL_MS / WORDS);
Object.assign(process.env, { org_cost_OPENAI_API_KEY: 'sk-cost', org_cost_OPENAI_BASE_URL: stub.url, ORG_RATE_LIMIT_PER_MINUTE: '100000' });
const keys = makeKeys();
process.env.CLERK_JWT_KEY = keys.publicKeyPem;
delete process.env.CLERK_AUTHORIZED_PARTIES;
const stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, workers: false });
type Handler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const worker = (await import('../functions/workers/ask.js')).handler as unknown as Handler;

try {
  const c = client(stack.url, await mintToken(keys, { org: 'org_cost', user: 'user_cost', expiresIn: 600 }));
  const dynamo = stack.dynamo.requestCounts;
  const sqs = stack.sqs.requestCounts;

  const delta = (counts: ReadonlyMap<string, number>, before: Map<string, number>, ...operations: string[]) =>
    operations.reduce((sum, operation) => sum + (counts.get(operation) ?? 0) - (before.get(operation) ?? 0), 0);

  /** Asks in `sessions` fresh sessions, then answers them in one worker invocation; what it took. */
  async function run(sessions: number) {
    const ids = await Promise.all(Array.from({ length: sessions }, async () => (await c.post('/openai/sessions', {})).body.session_id as string));
    const dynamoBefore = new Map(dynamo);
    const sqsBefore = new Map(sqs);
    const apiMs: number[] = [];
    for (const sessionId of ids) {
      const started = performance.now();
      const asked = await c.post(`/openai/sessions/${sessionId}/ask`, { message: 'What does this cost?' });
      apiMs.push(performance.now() - started);
      if (asked.status !== 202) throw new Error(`ask: HTTP ${asked.status}`);
    }
    const received = [];
    while (received.length < sessions) {
      const { Messages = [] } = await stack.sqs.client.send(
        new ReceiveMessageCommand({ QueueUrl: stack.sqs.queues.ask.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, AttributeNames: ['All'] }),
      );
      received.push(...Messages);
    }
    const sqsAfterReceive = new Map(sqs);
    const started = performance.now();
    const response = await worker({ Records: received.map((message) => toRecord(message, stack.sqs.queues.ask.arn, 'us-east-1')) }, lambdaContext('AskWorker', 120));
    const workerMs = performance.now() - started;
    if (response.batchItemFailures.length) throw new Error('a job of the batch failed');
    // Items written and read are small (under 1 KB and 4 KB): a unit each; a batch write of the
    // question and its answer is two.
    const writeUnits = delta(dynamo, dynamoBefore, 'PutItem', 'UpdateItem', 'DeleteItem') + 2 * delta(dynamo, dynamoBefore, 'BatchWriteItem');
    const readUnits = delta(dynamo, dynamoBefore, 'GetItem', 'Query', 'BatchGetItem');
    // The API's send, the worker's own calls, and the event source mapping's receive and delete of the batch.
    const sqsCalls = delta(sqs, sqsBefore, 'SendMessage') + delta(sqs, sqsAfterReceive, 'SendMessage', 'ChangeMessageVisibility', 'DeleteMessage') + 2;
    return {
      apiMs: apiMs.reduce((sum, ms) => sum + ms, 0) / sessions,
      workerMsPerAsk: workerMs / sessions,
      dynamoCallsPerAsk: (writeUnits - delta(dynamo, dynamoBefore, 'BatchWriteItem') + readUnits) / sessions,
      writeUnitsPerAsk: writeUnits / sessions,
      readUnitsPerAsk: readUnits / sessions,
      sqsCallsPerAsk: sqsCalls / sessions,
      workerInvocationsPerAsk: 1 / sessions,
    };
  }

  await run(1); // warm-up: modules loaded, connections open
  const quiet = await run(1);
  const busy = await run(BATCH);

  const costOf = (measured: typeof quiet) => {
    const perAsk = {
      'front (CloudFront, WAF)': PRICE.cloudFrontRequest + PRICE.wafRequest,
      'API Gateway (POST /ask)': PRICE.httpApiRequest,
      'Lambda requests (API, worker)': PRICE.lambdaRequest * (1 + measured.workerInvocationsPerAsk),
      'Lambda GB-s (API)': billedSeconds(measured.apiMs) * API_GB * PRICE.lambdaGbSecond,
      'Lambda GB-s (worker, waiting on the model)': measured.workerMsPerAsk / 1000 * workerGb * PRICE.lambdaGbSecond,
      DynamoDB: measured.writeUnitsPerAsk * PRICE.dynamoWriteUnit + measured.readUnitsPerAsk * PRICE.dynamoReadUnit,
      'SQS (send, receive, delete)': measured.sqsCallsPerAsk * PRICE.sqsFifoRequest,
      // The org's key: read once per 5 minutes per worker, its tenant session once an hour.
      'Secrets Manager (cached)': PRICE.secretsManagerCall / 100,
    };
    return perAsk;
  };
  const quietCost = costOf(quiet);
  const busyCost = costOf(busy);
  const dollars = (value: number) => `$${(value * ASKS).toFixed(4)}`;
  const rows = Object.keys(quietCost).map((name) => `| ${name} | ${dollars(quietCost[name as keyof typeof quietCost])} | ${dollars(busyCost[name as keyof typeof busyCost])} |`);
  const sum = (cost: Record<string, number>) => Object.values(cost).reduce((a, b) => a + b, 0);
  // What a client's own reads add, per ask, for a 10-second answer.
  const getCost = (gbSeconds: number) => PRICE.cloudFrontRequest + PRICE.wafRequest + PRICE.httpApiRequest + PRICE.lambdaRequest + gbSeconds * PRICE.lambdaGbSecond + 0.5 * PRICE.dynamoReadUnit;
  const polling = 5 * getCost(billedSeconds(3) * API_GB);
  // ?wait reads after 20, 40, 80 and 160 ms, then every 250 ms (shared/jobs/waiting.ts).
  const waiting = getCost((MODEL_MS / 1000) * API_GB) + (4 + MODEL_MS / 250) * 0.5 * PRICE.dynamoReadUnit;
  const streaming = PRICE.cloudFrontRequest + PRICE.wafRequest + PRICE.lambdaRequest + (MODEL_MS / 1000) * API_GB * PRICE.lambdaGbSecond + (MODEL_MS / 500) * 3 * PRICE.dynamoReadUnit;
  const table = [
    `Cost of ${ASKS.toLocaleString('en-US')} asks in AWS, tokens excluded (bench/cost.ts: a ${MODEL_MS / 1000}-second streamed answer; us-east-1, arm64, on-demand prices; measured on this machine's local stack)`,
    '',
    `| | quiet: one ask per worker invocation | busy: ${BATCH} asks per worker invocation |`,
    '|---|---|---|',
    ...rows,
    `| **total** | **${dollars(sum(quietCost))}** | **${dollars(sum(busyCost))}** |`,
    '',
    `Measured per ask: ${quiet.dynamoCallsPerAsk.toFixed(1)} table calls (${quiet.writeUnitsPerAsk.toFixed(1)} writes of under 1 KB, most of them the answer's progress while it streams), ${quiet.sqsCallsPerAsk.toFixed(1)} queue calls, the API call ${quiet.apiMs.toFixed(0)} ms, the worker ${(quiet.workerMsPerAsk / 1000).toFixed(2)} s alone and ${(busy.workerMsPerAsk / 1000).toFixed(2)} s of a batch of ${BATCH} (its ${workerGb * 1024} MB wait on the model side by side).`,
    `Reading the answer adds, per 1,000 asks: polling every 2 s ${dollars(polling)}; one \`?wait=20\` ${dollars(waiting)}; a stream ${dollars(streaming)} (a function waits, billed, while the answer is written).`,
  ].join('\n');
  console.log(table);
  if (process.argv.includes('--write')) {
    const readme = join(PROJECT_ROOT, 'README.md');
    const text = await readFile(readme, 'utf8');
    const start = '<!-- cost:start -->';
    const end = '<!-- cost:end -->';
    if (!text.includes(start) || !text.includes(end)) throw new Error('README.md has no cost markers');
    await writeFile(readme, `${text.slice(0, text.indexOf(start) + start.length)}\n${table}\n${text.slice(text.indexOf(end))}`);
    console.log('README.md updated');
  }
} finally {
  await stack.close();
  await stub.close();
}
process.exit(0);
