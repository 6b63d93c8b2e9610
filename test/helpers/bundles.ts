import { build, type Metafile } from 'esbuild';
import { join } from 'node:path';
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
 * makes, and shared dependencies are parsed once (about 2.5x faster).
 */
export async function buildBundles(outDir: string, entries: readonly string[]): Promise<Map<string, BuiltBundle>> {
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
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },
    mainFields: [...BUNDLING.mainFields],
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
