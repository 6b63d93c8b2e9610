import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Metafile } from 'esbuild';
import { buildBundles, handlerEntries, importBundle, type ImportProbe } from '../../bin/tools/bundles.js';
import { BUNDLING } from '../../infra/api-function.js';
import { ROUTES } from '../../shared/contract/routes.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

/*
 * Budgets per handler, checked on counts, not on the clock (the import time of each bundle is a
 * figure of `npm run bench`, bench/cold-start.ts): the bundle's size (index.mjs, without its source
 * map), and what importing it in a fresh Node does: no network, no file read past the bundle's own
 * source map, no timer or socket left running, a `handler` exported. An API handler's cold start is
 * budgeted at 300 KB (measured 262–294 KB; import about 30 ms here); the workers' is looser (about
 * 610 KB measured: the OpenAI SDK, the batch processor, and the tracer, loaded only when tracing
 * is on). The catch-all NotFound route answers from its own few lines (under 1 KB): it pays for no
 * logger, SDK or validation.
 */
const API_MAX_KB = 300;
const WORKER_MAX_KB = 700;
const NOT_FOUND_MAX_KB = 5;

const maxKb = (names: string[], kind: Kind) => (names.includes('NotFound') ? NOT_FOUND_MAX_KB : kind === 'api' ? API_MAX_KB : WORKER_MAX_KB);

type Kind = 'api' | 'worker';

interface Bundle {
  names: string[];
  kind: Kind;
  entry: string;
  file: string;
  bytes: number;
  /** The modules in this bundle (from the metafile), with the bytes each left in it. */
  inputs: Metafile['outputs'][string]['inputs'];
}

type Measured = Bundle & ImportProbe;

const HANDLERS = handlerEntries(ROUTES, WORKERS);
const label = (handler: { names: string[] }) => handler.names.join('+');

describe('the Lambda bundles', () => {
  let outDir: string;
  let bundles: Measured[];

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'bundles-'));
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // What the stack gives every function (NODE_OPTIONS included: source maps are read at load).
    const env = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_SERVICE_NAME: 'bundle-report',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      CLERK_TELEMETRY_DISABLED: '1',
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'bundle-report',
      ASK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/dev-ask.fifo',
      CTX_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/dev-ctx',
      CLERK_JWT_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
    const built = await buildBundles(outDir, HANDLERS.map((handler) => handler.entry));
    bundles = [];
    // One at a time: the imports share 2 cores with nothing else of this test.
    for (const handler of HANDLERS) {
      const bundle = { ...handler, ...built.get(handler.entry)! };
      bundles.push({ ...bundle, ...(await importBundle(bundle.file, env, outDir)) });
    }
    const report = render(bundles);
    const reportFile = join(tmpdir(), 'lambda-bundle-report.txt');
    await writeFile(reportFile, report);
    console.log(`Lambda bundles (report also in ${reportFile}; bundles in ${outDir})\n${report}`);
  }, 120_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('are built with the options the stack bundles with', () => {
    expect(BUNDLING.format).toBe(OutputFormat.ESM);
    expect(BUNDLING.externalModules).toEqual([]);
  });

  it('ship source maps that name files and lines, without the sources themselves', async () => {
    for (const one of bundles) {
      const map = JSON.parse(await readFile(`${one.file}.map`, 'utf8'));
      expect({ bundle: label(one), sources: map.sources.length > 0, sourcesContent: map.sourcesContent }).toEqual({ bundle: label(one), sources: true, sourcesContent: undefined });
    }
  });

  it('load without touching the network, reading files or leaving work running, and export a handler', () => {
    expect(bundles.filter((one) => one.attempts.length).map((one) => `${label(one)}: ${one.attempts.join(', ')}`)).toEqual([]);
    const ownFiles = (one: Measured) => (call: string) => !call.endsWith(`${one.file}.map`) && !call.endsWith(one.file);
    expect(bundles.filter((one) => one.opened.some(ownFiles(one))).map((one) => `${label(one)}: ${one.opened.filter(ownFiles(one)).join(', ')}`)).toEqual([]);
    expect(bundles.filter((one) => one.handlesLeft.length).map((one) => `${label(one)}: ${one.handlesLeft.join(', ')}`)).toEqual([]);
    expect(bundles.filter((one) => one.handler !== 'function').map(label)).toEqual([]);
  });

  it.each(HANDLERS.map((handler) => [label(handler), handler.kind] as const))('%s (%s) stays within its size budget', (name, kind) => {
    const measured = bundles.find((one) => label(one) === name)!;
    expect(measured.bytes / 1024).toBeLessThanOrEqual(maxKb(measured.names, kind));
  });

  it('keep the OpenAI SDK out of every API handler and the webhook delivery, and have it in every answering worker', () => {
    const withOpenAi = (one: Bundle) => Object.keys(one.inputs).some((path) => path.includes('node_modules/openai/'));
    const named = (purpose: string) => new Set(WORKERS.filter((worker) => worker.purpose === purpose).map((worker) => worker.name));
    const is = (names: Set<string>) => (one: Bundle) => one.names.some((name) => names.has(name));
    expect(bundles.filter((one) => (one.kind === 'api' || is(named('deliver'))(one)) && withOpenAi(one)).map(label)).toEqual([]);
    expect(bundles.filter((one) => is(named('answer'))(one) && !withOpenAi(one)).map(label)).toEqual([]);
  });

  it('bundle no code but Clerk’s runtime that reads the web globals the bundles define away (reading one loads fetch)', async () => {
    const readers = new Set<string>();
    const pattern = /globalThis\.(FormData|Headers|Request|Response)\b/;
    for (const one of bundles) {
      for (const path of Object.keys(one.inputs)) {
        if (!/\.(m?js|ts)$/.test(path) || readers.has(path)) continue;
        if (pattern.test(await readFile(join(PROJECT_ROOT, path), 'utf8'))) readers.add(path);
      }
    }
    expect([...readers].map((path) => path.replace(/.*node_modules\//, ''))).toEqual([expect.stringMatching(/^@clerk\/backend\/dist\/chunk-[A-Z0-9]+\.mjs$/)]);
    expect(Object.keys(BUNDLING.define).sort()).toEqual(['globalThis.FormData', 'globalThis.Headers', 'globalThis.Request', 'globalThis.Response']);
  });

  it('hold nothing of the local stack (the mock model, the stubs, the gateway) or of the tests', () => {
    const local = bundles.flatMap((one) => Object.keys(one.inputs).filter((path) => /^(bin|test|bench)\//.test(path)).map((path) => `${label(one)}: ${path}`));
    expect(local).toEqual([]);
  });

  it('keep the SQS client out of the API handlers that enqueue nothing and send no event', () => {
    const withSqs = (one: Bundle) => Object.keys(one.inputs).some((path) => path.includes('node_modules/@aws-sdk/client-sqs/'));
    const enqueuing = new Set(ROUTES.filter((route) => route.enqueues || route.publishesEvents).map((route) => route.name));
    const api = bundles.filter((one) => one.kind === 'api');
    expect(api.filter((one) => withSqs(one) && !one.names.some((name) => enqueuing.has(name))).map(label)).toEqual([]);
    expect(api.filter((one) => one.names.some((name) => enqueuing.has(name))).every(withSqs)).toBe(true);
  });
});

/** The bytes each package (or the project's own code) puts into a bundle. */
function bytesByPackage(one: Bundle): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(one.inputs)) {
    const inModules = path.lastIndexOf('node_modules/');
    let name = '(project)';
    if (inModules >= 0) {
      const parts = path.slice(inModules + 'node_modules/'.length).split('/');
      name = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    }
    sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
  }
  return sizes;
}

function render(bundles: Measured[]): string {
  const kb = (bytes: number) => (bytes / 1024).toFixed(0);
  const rows = [
    ['handler', 'kind', 'bundle KB', 'import ms (once; see npm run bench)'],
    ...bundles.map((one) => [label(one), one.kind, kb(one.bytes), one.ms.toFixed(0)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const table = rows.map((row) => row.map((cell, column) => (column === 2 || column === 3 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd());

  // The largest package in any API handler: what a route pays for at every cold start.
  const largest = new Map<string, number>();
  for (const one of bundles.filter((b) => b.kind === 'api')) {
    for (const [name, bytes] of bytesByPackage(one)) largest.set(name, Math.max(largest.get(name) ?? 0, bytes));
  }
  const top = [...largest].sort((a, b) => b[1] - a[1]).slice(0, 12);
  const packages = top.map(([name, bytes]) => `  ${kb(bytes).padStart(5)} KB  ${name}`);
  return [...table, '', 'Largest contributors to an API handler (KB in the minified bundle, the most in any one):', ...packages].join('\n');
}
