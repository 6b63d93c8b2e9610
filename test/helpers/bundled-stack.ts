/**
 * The local stack serving the deployable bundles instead of the TypeScript sources: run as a child
 * process by test/infra/bundle-run.test.ts (`tsx test/helpers/bundled-stack.ts <bundle dir>`), in
 * plain Node as in Lambda. Prints `listening on <url>`; stops on SIGTERM.
 */
import { join } from 'node:path';
import { startLocalStack } from '../../bin/local/local-stack.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { bundleName } from '../../bin/tools/bundles.js';

const bundleDir = process.argv[2];
if (!bundleDir) throw new Error('usage: bundled-stack.ts <bundle dir>');
const stack = await startLocalStack({
  root: PROJECT_ROOT,
  port: 0,
  inMemory: true,
  workerThread: true,
  entryFile: (entry) => join(bundleDir, bundleName(entry), 'index.mjs'),
  log: (line) => console.log(line),
});
console.log(`listening on ${stack.url}`);
process.on('SIGTERM', () => {
  void stack.close().then(() => process.exit(0));
});
