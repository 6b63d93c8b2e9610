/**
 * `npm start`: the whole API on 127.0.0.1 with no AWS account.
 *   --port N      (or PORT; default 3000)
 *   --in-memory   (or LOCAL_IN_MEMORY=1) keep no data on disk
 *   --data-dir D  (or LOCAL_DATA_DIR) keep the data in D instead of .local/dynamodb
 *   --mock-model  (or LOCAL_MOCK_MODEL=1) answer organizations without a key with the mock model,
 *                 a word every LOCAL_MOCK_TOKEN_MS (40) ms
 */
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { startLocalStack } from './local-stack.js';

const root = PROJECT_ROOT;
const { values } = parseArgs({
  options: { port: { type: 'string' }, 'in-memory': { type: 'boolean', default: false }, 'data-dir': { type: 'string' }, 'mock-model': { type: 'boolean', default: false } },
});
const port = Number(values.port ?? process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`Not a port: ${values.port ?? process.env.PORT}`);
  process.exit(2);
}
const inMemory = values['in-memory'] || ['1', 'true'].includes(process.env.LOCAL_IN_MEMORY ?? '');
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
// CloudWatch metrics mean nothing on a laptop: do not print them after every request.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const dataDirectory = values['data-dir'] ?? (process.env.LOCAL_DATA_DIR || undefined);
const mockModel = values['mock-model'] || ['1', 'true'].includes(process.env.LOCAL_MOCK_MODEL ?? '');
const tokenMs = Number(process.env.LOCAL_MOCK_TOKEN_MS ?? 40);
if (!Number.isFinite(tokenMs) || tokenMs < 0) {
  console.error(`LOCAL_MOCK_TOKEN_MS must be a number of milliseconds, not ${process.env.LOCAL_MOCK_TOKEN_MS}`);
  process.exit(2);
}
let stopping: Promise<never> | undefined;
/** Closes the stack once, however many reasons to stop come (a signal, a lost thread), then exits. */
const stop = (why: string, code: number): Promise<never> =>
  (stopping ??= (async () => {
    (code ? console.error : console.log)(`${why}: stopping`);
    await (await starting).close().catch((error: unknown) => console.error(error));
    process.exit(code);
  })());
const starting = startLocalStack({
  root,
  port,
  inMemory,
  dataDirectory,
  workerThread: true,
  mockModel: mockModel ? { tokenMs } : undefined,
  log: (line) => console.log(line),
  // A server that no longer answers asks (its workers' thread ended) must not look as if it did.
  onLost: (reason) => void stop(reason, 1),
});
const stack = await starting;

if (stack.devKeysDirectory) {
  console.warn(
    [
      '',
      '!!! CLERK_JWT_KEY is not set: tokens are verified with a LOCAL DEVELOPMENT key pair',
      `!!! (${stack.devKeysDirectory}). Real Clerk tokens will be refused. Get a token with:`,
      '!!!   npm run token -- --org org_example --user user_example [--role admin]',
      '',
    ].join('\n'),
  );
}
console.log(`AI chat API listening on ${stack.url}/openai (${inMemory ? 'in memory' : `data in ${dataDirectory ?? '.local/dynamodb'}`})`);
console.log(`Playground on ${stack.url}/`);
console.log(
  mockModel
    ? `Mock model on: organizations without a key of their own are answered by model "mock" (a word every ${tokenMs} ms)`
    : 'No mock model: only organizations with a key answer (npm start -- --mock-model answers the others)',
);

// A second signal while stopping ends the process at once.
const onSignal = (signal: string) => (stopping ? process.exit(1) : void stop(signal, 0));
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
