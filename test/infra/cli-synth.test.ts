import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/local-api.js';

const run = promisify(execFile);

/**
 * `npx cdk synth -c stage=...` as the README says, offline: the CLI, cdk.json's app command, every
 * bundle and cdk-nag. One stage is enough here (the CLI path is the same for all; stack.test.ts
 * synthesizes dev and prod in process), and prod is the stricter one.
 */
it.each(['prod'])('npx cdk synth -c stage=%s succeeds offline', async (stage) => {
  const out = mkdtempSync(join(tmpdir(), `synth-${stage}-`));
  try {
    const { stderr } = await run('npx', ['cdk', 'synth', '-c', `stage=${stage}`, '-q', '-o', out], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CI: 'true' },
      timeout: 150_000,
    });
    const template = JSON.parse(readFileSync(join(out, `ai-chat-${stage}.template.json`), 'utf8'));
    expect(Object.values(template.Resources).filter((resource: any) => resource.Type === 'AWS::Lambda::Function').length).toBeGreaterThan(10);
    expect(stderr).not.toMatch(/ERROR/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 160_000);
