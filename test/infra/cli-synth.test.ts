import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../helpers/local-api.js';

const run = promisify(execFile);

/** What the CDK CLI sets when it has credentials (as `cdk deploy` does), or nothing offline. */
const ACCOUNT = { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' };

/** Where the protected stages are pinned (prod in us-east-1; production elsewhere, so its web ACL gets a stack of its own). */
const PINNED: Record<string, string[]> = {
  dev: [],
  prod: ['-c', 'account=123456789012', '-c', 'region=us-east-1'],
  production: ['-c', 'account=123456789012', '-c', 'region=eu-west-1'],
};

/**
 * `npx cdk synth -c stage=...` as the README says: the CLI, cdk.json's app command and context, every
 * bundle and cdk-nag, for each stage, offline and with the account and region that deploying sets.
 */
it.each([
  ['dev', 'offline', {}],
  ['dev', 'with an account and region', ACCOUNT],
  ['prod', 'offline', {}],
  ['prod', 'with an account and region', ACCOUNT],
  ['production', 'offline', {}],
  ['production', 'with an account and region', ACCOUNT],
])('npx cdk synth -c stage=%s succeeds %s', async (stage, _how, account) => {
  const out = mkdtempSync(join(tmpdir(), `synth-${stage}-`));
  try {
    const environment: NodeJS.ProcessEnv = { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CI: 'true', ...account };
    if (!('CDK_DEFAULT_ACCOUNT' in account)) {
      delete environment.CDK_DEFAULT_ACCOUNT;
      delete environment.CDK_DEFAULT_REGION;
    }
    const { stderr } = await run('npx', ['cdk', 'synth', '-c', `stage=${stage}`, ...PINNED[stage]!, '-q', '-o', out], {
      cwd: PROJECT_ROOT,
      env: environment,
      timeout: 150_000,
    });
    const template = JSON.parse(readFileSync(join(out, `ai-chat-${stage}.template.json`), 'utf8'));
    expect(Object.values(template.Resources).filter((resource: any) => resource.Type === 'AWS::Lambda::Function').length).toBeGreaterThan(10);
    expect(stderr).not.toMatch(/ERROR/);
    if (stage === 'production') {
      const edge = JSON.parse(readFileSync(join(out, `ai-chat-${stage}-edge.template.json`), 'utf8'));
      expect(Object.values(edge.Resources).map((resource: any) => resource.Type)).toContain('AWS::WAFv2::WebACL');
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}, 160_000);
