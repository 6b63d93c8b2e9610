/**
 * The layout's rules (docs/architecture.md), read from the import statements of every source file:
 * no import cycles, and each layer imports only what it may.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

const TOP = ['bin', 'bench', 'client', 'functions', 'infra', 'shared', 'test'];

function sources(folder: string): string[] {
  return readdirSync(join(PROJECT_ROOT, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const files = TOP.flatMap(sources);
/** `import … from 'x'`, `export … from 'x'`, `import 'x'` and `import('x')`. */
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Each file's imports: project files (relative to the root, `.ts`) and packages. */
const graph = new Map(
  files.map((file) => {
    const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    const local: string[] = [];
    const packages: string[] = [];
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      if (specifier.startsWith('.')) local.push(relative(PROJECT_ROOT, join(PROJECT_ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'));
      else if (!specifier.startsWith('node:')) packages.push(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
    return [file, { local, packages }] as const;
  }),
);

const importsOf = (prefix: string) => [...graph].filter(([file]) => file.startsWith(prefix));
const offending = (prefix: string, forbidden: (target: string) => boolean) =>
  importsOf(prefix).flatMap(([file, { local }]) => local.filter(forbidden).map((target) => `${file} -> ${target}`));

describe('the layout', () => {
  it('reads the imports it checks', () => {
    expect(graph.get('functions/sessions/get.ts')?.local).toContain('shared/api/handler.ts');
    expect(graph.get('shared/api/handler.ts')?.packages).toContain('@middy/core');
  });

  it('imports only files that exist', () => {
    const missing = [...graph].flatMap(([file, { local }]) => local.filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`));
    expect(missing).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file)?.local ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps the runtime (shared/, functions/) free of infra, commands, tests and dev-only packages', () => {
    expect(offending('shared/', (target) => !target.startsWith('shared/'))).toEqual([]);
    expect(offending('functions/', (target) => !target.startsWith('shared/'))).toEqual([]);
    const { devDependencies } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const devOnly = [...importsOf('shared/'), ...importsOf('functions/')].flatMap(([file, { packages }]) =>
      packages.filter((name) => name in devDependencies && name !== '@types/aws-lambda').map((name) => `${file} -> ${name}`),
    );
    expect(devOnly).toEqual([]);
  });

  it('keeps the client library on its own: no file of the project, no package (it needs only fetch)', () => {
    expect(offending('client/src/', (target) => !target.startsWith('client/src/'))).toEqual([]);
    expect(importsOf('client/src/').flatMap(([file, { packages }]) => packages.map((name) => `${file} -> ${name}`))).toEqual([]);
  });

  it('keeps handlers thin: a function file uses the api or jobs layer and a service, never an AWS SDK client', () => {
    const direct = importsOf('functions/').flatMap(([file, { packages }]) => packages.filter((name) => name.startsWith('@aws-sdk/')).map((name) => `${file} -> ${name}`));
    expect(direct).toEqual([]);
  });

  it('keeps the domain out of HTTP: only shared/api knows the API layer', () => {
    expect(offending('shared/', (target) => target.startsWith('shared/api/')).filter((line) => !line.startsWith('shared/api/'))).toEqual([]);
  });

  it('builds platform and store on nothing above them', () => {
    expect(offending('shared/platform/', (target) => !target.startsWith('shared/platform/'))).toEqual([]);
    expect(offending('shared/store/', (target) => !/^shared\/(store|platform)\//.test(target))).toEqual([]);
  });

  it('lets the contract name only platform rules and the features’ schemas', () => {
    expect(offending('shared/contract/', (target) => !/^shared\/(contract|platform)\/|^shared\/\w[\w-]*\/schema\.ts$/.test(target))).toEqual([]);
  });

  it('keeps commands, the benchmark and the stack off the tests', () => {
    for (const prefix of ['bin/', 'bench/', 'infra/']) expect(offending(prefix, (target) => target.startsWith('test/'))).toEqual([]);
    expect(offending('infra/', (target) => target.startsWith('bin/') || target.startsWith('functions/'))).toEqual([]);
  });

  it('names each file of shared/ once, but for the features’ schema, repository and service', () => {
    const names = files.filter((file) => file.startsWith('shared/')).map((file) => basename(file)).filter((name) => !['schema.ts', 'repository.ts', 'service.ts'].includes(name));
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  });

  it('gives no two layers (shared, infra, bin, bench) a file of the same name', () => {
    const layerOf = (file: string) => file.split('/')[0]!;
    const byName = new Map<string, Set<string>>();
    for (const file of files.filter((candidate) => ['shared', 'infra', 'bin', 'bench'].includes(layerOf(candidate)))) {
      byName.set(basename(file), (byName.get(basename(file)) ?? new Set()).add(layerOf(file)));
    }
    expect([...byName].filter(([, layers]) => layers.size > 1).map(([name, layers]) => `${name}: ${[...layers].join(', ')}`)).toEqual([]);
  });

  it('keeps the project root (shared/contract/project.ts) to build and local tools: no runtime module imports it', () => {
    const runtime = [...importsOf('shared/'), ...importsOf('functions/')].filter(([, { local }]) => local.includes('shared/contract/project.ts'));
    expect(runtime.map(([file]) => file)).toEqual([]);
  });
});
