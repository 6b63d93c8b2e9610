import { spawn, type ChildProcess } from 'node:child_process';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

export interface NpmStart {
  child: ChildProcess;
  url: string;
  /** Everything it printed so far. */
  output(): string;
}

/**
 * Runs `npm start -- <args>` as a client team would, in its own process group (so a signal reaches
 * the server below npm), and waits until it says where it listens.
 */
export async function npmStart(args: string[], env: NodeJS.ProcessEnv): Promise<NpmStart> {
  let output = '';
  const child = spawn('npm', ['start', '--', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, PORT: '', ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const listening = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
  const deadline = Date.now() + 30_000;
  while (!listening.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url: listening.exec(output)![1]!, output: () => output };
}
