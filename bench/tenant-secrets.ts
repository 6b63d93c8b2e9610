/**
 * `npm run bench` (fourth part): what reading an organization's key through the tenant role adds to
 * a job (shared/platform/org-settings.ts), against the stub STS and the stub Secrets Manager, each
 * answering after a set round trip (as a call inside a region would). For each of many
 * organizations, the first job in a worker (cold: the secret is read, and with the role a tagged
 * session is taken first) and a later one (warm: both are cached). Reported: the time per job and
 * the AWS calls per job, with and without the tenant role.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { availableParallelism, cpus } from 'node:os';

process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';

const ORGS = 40;
/** A call's round trip inside a region (STS and Secrets Manager are both regional endpoints). */
const ROUND_TRIP_MS = 8;

const { startStubSts } = await import('../bin/local/stub-sts.js');
const { startStubSecretsManager } = await import('../bin/local/stub-secrets-manager.js');
const { setOrgSettings } = await import('../bin/org/secrets.js');
const { settingsFromSecretsManager } = await import('../shared/platform/org-settings.js');

const sts = await startStubSts();
// Before: the worker's own role reads any org's secret. Now: only a session tagged with its org.
const plain = await startStubSecretsManager();
const secrets = await startStubSecretsManager({ abac: { tagsOf: (key) => sts.tagsOf(key) } });
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIABENCH0000000000',
    AWS_SECRET_ACCESS_KEY: 'x',
    ORG_SECRET_PREFIX: 'ai-chat/bench/orgs/',
  });
  for (const stub of [plain, secrets]) {
    const admin = new SecretsManagerClient({ endpoint: stub.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIAOPERATOR0000000', secretAccessKey: 'x' } });
    for (let i = 0; i < ORGS * 2; i++) await setOrgSettings(admin, { orgId: `org_bench${i}`, stage: 'bench', apiKey: `sk-bench-${String(i).padStart(16, '0')}` });
    stub.latency(ROUND_TRIP_MS);
  }
  sts.latency(ROUND_TRIP_MS);

  const rows: string[][] = [['', 'cold job ms (p50)', 'warm job ms (p50)', 'AWS calls, cold job', 'AWS calls, warm job']];
  for (const [label, role, offset, stub] of [
    ['own role (before)', undefined, 0, plain],
    ['tenant role', 'arn:aws:iam::123456789012:role/ai-chat-bench-TenantSecretsRole', ORGS, secrets],
  ] as const) {
    if (role) process.env.TENANT_SECRETS_ROLE_ARN = role;
    else delete process.env.TENANT_SECRETS_ROLE_ARN;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = stub.url;
    const cold: number[] = [];
    const warm: number[] = [];
    let coldCalls = 0;
    let warmCalls = 0;
    const calls = () => sts.calls.length + stub.requests.length;
    for (let i = 0; i < ORGS; i++) {
      const org = `org_bench${offset + i}`;
      let before = calls();
      let started = performance.now();
      await settingsFromSecretsManager(org);
      cold.push(performance.now() - started);
      coldCalls += calls() - before;
      before = calls();
      started = performance.now();
      await settingsFromSecretsManager(org);
      warm.push(performance.now() - started);
      warmCalls += calls() - before;
    }
    rows.push([label, median(cold).toFixed(1), median(warm).toFixed(2), (coldCalls / ORGS).toFixed(1), (warmCalls / ORGS).toFixed(1)]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  console.log(
    [
      `AI chat backend: reading an organization's key per job (stub STS and Secrets Manager, ${ROUND_TRIP_MS} ms a call)`,
      `machine: ${availableParallelism()} cpus (${cpus()[0]?.model.trim()}), node ${process.version}`,
      `${ORGS} organizations; a cold job is an organization's first in a worker, a warm one any later (key cached 5 minutes, session an hour)`,
      '',
      ...rows.map((row) => row.map((cell, column) => (column ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ')),
    ].join('\n'),
  );
} finally {
  await sts.close();
  await secrets.close();
  await plain.close();
}
process.exit(0);
