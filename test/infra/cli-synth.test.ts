import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/local-api.js';

const run = promisify(execFile);

/** What the CDK CLI sets when it has credentials (as `cdk deploy` does), or nothing offline. */
const ACCOUNT = { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };

/**
 * `npx cdk synth -c stage=...` as the README says: the CLI, cdk.json's app command, every bundle
 * and cdk-nag, for each stage, offline and with the account and region that deploying sets.
 */
it.each([
  ['dev', 'offline', {}],
  ['dev', 'with an account and region', ACCOUNT],
  ['prod', 'offline', {}],
  ['prod', 'with an account and region', ACCOUNT],
])('npx cdk synth -c stage=%s succeeds %s', async (stage, _how, account) => {
  const out = mkdtempSync(join(tmpdir(), `synth-${stage}-`));
  try {
    const environment: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CI: 'true', ...account };
    if (!('CDK_DEFAULT_ACCOUNT' in account)) {
      delete environment.CDK_DEFAULT_ACCOUNT;
      delete environment.CDK_DEFAULT_REGION;
    }
    const { stderr } = await run('npx', ['cdk', 'synth', '-c', `stage=${stage}`, '-q', '-o', out], {
      cwd: PROJECT_ROOT,
      env: environment,
      timeout: 150_000,
    });
    const template = JSON.parse(readFileSync(join(out, `ai-chat-${stage}.template.json`), 'utf8'));
    expect(Object.values(template.Resources).filter((resource: any) => resource.Type === 'AWS::Lambda::Function').length).toBeGreaterThan(10);
    expect(stderr).not.toMatch(/ERROR/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 160_000);
