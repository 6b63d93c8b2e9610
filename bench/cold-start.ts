/**
 * `npm run bench` (second part): the import time of every Lambda bundle, a proxy for its cold
 * start. Each handler is bundled as the stack bundles it and imported in a fresh Node process
 * IMPORT_RUNS times, one at a time, with the environment the stack gives it (source maps on); the
 * median counts, beside an empty module's (Node's own start is not counted in either).
 *
 * Wall time on a shared machine is noisy: the CPU time of the median run is shown beside it, and
 * wall time far above it means the box was busy. Compare runs on the same machine.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundles, handlerEntries, importBundle, type ImportProbe } from '../bin/tools/bundles.js';
import { ROUTES } from '../shared/contract/routes.js';
import { WORKERS } from '../shared/contract/workers.js';

const IMPORT_RUNS = 5;

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const env: NodeJS.ProcessEnv = {
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  CLERK_TELEMETRY_DISABLED: '1',
  AWS_REGION: 'us-east-1',
  TABLE_NAME: 'bench',
  ASK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/dev-ask.fifo',
  CTX_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/dev-ctx',
  CLERK_JWT_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
};

/** With `--enable-source-maps` (stack traces map to the sources; the stack does not set it) or without. */
async function median(file: string, workDir: string, sourceMaps = false): Promise<ImportProbe & { runs: number[] }> {
  const runs: ImportProbe[] = [];
  for (let i = 0; i < IMPORT_RUNS; i++) runs.push(await importBundle(file, sourceMaps ? { ...env, NODE_OPTIONS: '--enable-source-maps' } : env, workDir));
  const sorted = [...runs].sort((a, b) => a.ms - b.ms);
  return { ...sorted[Math.floor(sorted.length / 2)]!, runs: runs.map((run) => run.ms) };
}

const started = performance.now();
const outDir = await mkdtemp(join(tmpdir(), 'bench-bundles-'));
try {
  const handlers = handlerEntries(ROUTES, WORKERS);
  const built = await buildBundles(outDir, handlers.map((handler) => handler.entry));
  const baselineFile = join(outDir, 'baseline', 'index.mjs');
  await mkdir(join(outDir, 'baseline'), { recursive: true });
  await writeFile(baselineFile, 'export const handler = async () => ({});\n');

  const rows: string[][] = [['handler', 'kind', 'bundle KB', 'import ms (median)', 'cpu ms', 'with source maps ms', `runs ms (${IMPORT_RUNS})`]];
  const row = (name: string, kind: string, bytes: number, probe: ImportProbe & { runs: number[] }, mapped: ImportProbe) =>
    rows.push([name, kind, (bytes / 1024).toFixed(0), probe.ms.toFixed(0), probe.cpuMs.toFixed(0), mapped.ms.toFixed(0), probe.runs.map((ms) => ms.toFixed(0)).join(' ')]);
  row('(empty module)', 'baseline', 0, await median(baselineFile, outDir), await median(baselineFile, outDir, true));
  for (const handler of handlers) {
    const bundle = built.get(handler.entry)!;
    row(handler.names.join('+'), handler.kind, bundle.bytes, await median(bundle.file, outDir), await median(bundle.file, outDir, true));
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => cells[column]!.length)));
  const table = rows.map((cells) => cells.map((cell, column) => (column >= 2 && column <= 5 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  console.log(
    [
      'AI chat backend: Lambda bundle import times (a proxy for cold starts)',
      `machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim()}), node ${process.version}, ${process.platform}/${process.arch}`,
      `each bundle built as the stack builds it, imported ${IMPORT_RUNS} times in a fresh Node as deployed (no --enable-source-maps), one at a time; and with --enable-source-maps`,
      '',
      ...table,
      '',
      `run time ${((performance.now() - started) / 1000).toFixed(1)} s`,
    ].join('\n'),
  );
} finally {
  await rm(outDir, { recursive: true, force: true });
}
