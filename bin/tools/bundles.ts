import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { BUNDLING } from '../../infra/api-function.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

export interface BuiltBundle {
  /** The bundle's index.mjs. */
  file: string;
  bytes: number;
  /** The modules in this bundle (from the metafile), with the bytes each left in it. */
  inputs: Metafile['outputs'][string]['inputs'];
}

/** The folder name of an entry's bundle: `functions/sessions/create.ts` → `functions_sessions_create`. */
export const bundleName = (entry: string): string => entry.replace(/\.ts$/, '').replace(/[/\\]/g, '_');

/**
 * Builds handler entries (relative to the project root) exactly as the stack's functions are
 * bundled (BUNDLING), each to `<outDir>/<bundleName>/index.mjs`. One esbuild call for all: without
 * code splitting each output is a whole bundle, byte for byte what a build of that entry alone
 * makes, and shared dependencies are parsed once (about 2.5x faster). `define` is as the stack
 * gives it (the answering workers' system prompt).
 */
export async function buildBundles(outDir: string, entries: readonly string[], options: { define?: Record<string, string> } = {}): Promise<Map<string, BuiltBundle>> {
  const unique = [...new Set(entries)];
  const { metafile } = await build({
    absWorkingDir: PROJECT_ROOT,
    entryPoints: Object.fromEntries(unique.map((entry) => [`${bundleName(entry)}/index`, join(PROJECT_ROOT, entry)])),
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: BUNDLING.target,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },
    mainFields: [...BUNDLING.mainFields],
    alias: { ...BUNDLING.alias },
    define: { ...BUNDLING.define, ...options.define },
    metafile: true,
    logLevel: 'silent',
  });
  return new Map(
    unique.map((entry) => {
      const [path, output] = Object.entries(metafile.outputs).find(([, out]) => out.entryPoint === entry)!;
      return [entry, { file: join(PROJECT_ROOT, path), bytes: output.bytes, inputs: output.inputs }];
    }),
  );
}

/**
 * Run in a fresh process per import: imports the bundle with every network connection refused and
 * recorded (a handler may not call out while it loads), notes the files it opened and the timers,
 * sockets and other handles it left behind (work a cold start would pay for, or that would keep an
 * invocation alive), times it, and says whether the module exports a `handler` function.
 */
const PROBE = `
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
const attempts = [];
const refused = (what) => {
  attempts.push(what);
  process.stderr.write('network used at import time: ' + what + '\\n');
  return new Error('no network at import time: ' + what);
};
net.Socket.prototype.connect = function (...args) {
  const target = Array.isArray(args[0]) ? args[0][0] : args[0];
  const error = refused('connect ' + JSON.stringify(target?.host ?? target?.path ?? target));
  process.nextTick(() => this.destroy(error));
  return this;
};
dgram.Socket.prototype.send = function () { refused('udp send'); };
globalThis.fetch = async (input) => { throw refused('fetch ' + String(input?.url ?? input)); };
const opened = [];
for (const name of ['openSync', 'readFileSync', 'existsSync', 'statSync', 'readdirSync']) {
  const original = fs[name];
  fs[name] = function (path, ...rest) { opened.push(name + ' ' + String(path)); return original.call(this, path, ...rest); };
}
// What Lambda's Node.js runtime defines before it loads a handler (a streaming one calls it at import).
globalThis.awslambda = { streamifyResponse: (handler) => handler, HttpResponseStream: { from: (stream) => stream } };
const url = process.argv[2];
// The stdio streams are made on first use: make them now, so that only the module's own handles count.
void [process.stdin, process.stdout, process.stderr];
const handlesBefore = process.getActiveResourcesInfo().length;
const cpu = process.cpuUsage();
const t = performance.now();
const mod = await import(url);
const ms = performance.now() - t;
const used = process.cpuUsage(cpu);
await new Promise((resolve) => setImmediate(resolve));
const handlesLeft = process.getActiveResourcesInfo().slice(handlesBefore);
process.stdout.write('\\n@@' + JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000, handler: typeof mod.handler, attempts, opened, handlesLeft }) + '\\n');
process.exit(0);
`;

/** What one import of a bundle in a fresh Node did; see {@link importBundle}. */
export interface ImportProbe {
  /** Wall time of the `import()` (Node's own start not counted). */
  ms: number;
  /** CPU time of the import (all threads): wall time above it is the box being busy. */
  cpuMs: number;
  /** `typeof` the module's `handler` export. */
  handler: string;
  /** Network connections tried while it loaded (each refused). */
  attempts: string[];
  /** Synchronous file system calls made while it loaded. */
  opened: string[];
  /** Handles (timers, sockets, …) still active once it loaded, by kind. */
  handlesLeft: string[];
}

const exec = promisify(execFile);

/**
 * Imports `file` once in a fresh Node process (the one running this) with only `env`, and reports
 * what the import did.
 * @example const { ms, attempts } = await importBundle(bundle.file, { NODE_OPTIONS: '--enable-source-maps' }, tmpDir)
 */
export async function importBundle(file: string, env: NodeJS.ProcessEnv, workDir: string): Promise<ImportProbe> {
  const probe = join(workDir, 'import-probe.mjs');
  await writeFile(probe, PROBE);
  const { stdout } = await exec(process.execPath, [probe, pathToFileURL(file).href], { env, timeout: 20_000, maxBuffer: 16 << 20 });
  const line = stdout.split('\n').findLast((text) => text.startsWith('@@'));
  if (!line) throw new Error(`no report from importing ${file}: ${stdout}`);
  return JSON.parse(line.slice(2)) as ImportProbe;
}

/** Every handler entry once, in the order of the route table and then the workers, with the functions built from it. */
export function handlerEntries(routes: ReadonlyArray<{ name: string; entry: string }>, workers: ReadonlyArray<{ name: string; entry: string }>) {
  const byEntry = new Map<string, { names: string[]; kind: 'api' | 'worker'; entry: string }>();
  for (const [kind, list] of [['api', routes], ['worker', workers]] as const) {
    for (const { name, entry } of list) {
      const known = byEntry.get(entry);
      if (!known) byEntry.set(entry, { names: [name], kind, entry });
      else if (known.kind !== kind) throw new Error(`${entry} is both an API handler and a worker`);
      else known.names.push(name);
    }
  }
  return [...byEntry.values()];
}
