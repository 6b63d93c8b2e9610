/**
 * Tenant-scoped keys: a worker reads an organization's secret with a session of the tenant role
 * tagged with that organization (shared/platform/org-settings.ts), as the deployed stack's IAM
 * allows it (infra/jobs.ts). The stub STS hands out tagged sessions; the stub Secrets Manager, like
 * the tenant role's policy, lets a session read only the secrets tagged with its own org.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { setOrgSettings } from '../../bin/org/secrets.js';
import { startStubSecretsManager, type StubSecretsManager } from '../../bin/local/stub-secrets-manager.js';
import { startStubSts, type StubSts } from '../../bin/local/stub-sts.js';
import { settingsFromSecretsManager } from '../../shared/platform/org-settings.js';

const STAGE = 'tenancy';
const ROLE = 'arn:aws:iam::123456789012:role/ai-chat-tenancy-TenantSecretsRole';
let sts: StubSts;
let secrets: StubSecretsManager;
const saved = { ...process.env };

beforeAll(async () => {
  sts = await startStubSts();
  secrets = await startStubSecretsManager({ abac: { tagsOf: (key) => sts.tagsOf(key) } });
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAWORKEROWNROLE000',
    AWS_SECRET_ACCESS_KEY: 'x',
    ORG_SECRET_PREFIX: `ai-chat/${STAGE}/orgs/`,
    TENANT_SECRETS_ROLE_ARN: ROLE,
  });
  const admin = new SecretsManagerClient({ endpoint: secrets.url, region: 'us-east-1', credentials: { accessKeyId: 'AKIAOPERATOR00000000', secretAccessKey: 'x' } });
  await setOrgSettings(admin, { orgId: 'org_clinic', stage: STAGE, apiKey: 'sk-clinic-000000000001', model: 'gpt-4o-mini' });
  await setOrgSettings(admin, { orgId: 'org_lawfirm', stage: STAGE, apiKey: 'sk-lawfirm-00000000002' });
});
afterAll(async () => {
  process.env = saved;
  await secrets?.close();
  await sts?.close();
});

const reads = (org: string) => secrets.requestsFor(`ai-chat/${STAGE}/orgs/${org}`).filter((request) => request.target === 'secretsmanager.GetSecretValue');

it('reads each organization’s secret with a session of the tenant role tagged with that organization, taken once', async () => {
  await expect(settingsFromSecretsManager('org_clinic')).resolves.toEqual({ apiKey: 'sk-clinic-000000000001', model: 'gpt-4o-mini', baseUrl: undefined });
  await expect(settingsFromSecretsManager('org_lawfirm')).resolves.toMatchObject({ apiKey: 'sk-lawfirm-00000000002' });
  expect(sts.calls.map((call) => ({ role: call.roleArn, tags: call.tags, session: call.sessionName }))).toEqual([
    { role: ROLE, tags: { org: 'org_clinic' }, session: 'org_clinic' },
    { role: ROLE, tags: { org: 'org_lawfirm' }, session: 'org_lawfirm' },
  ]);
  // Each read was signed with its own organization's session.
  expect(sts.tagsOf(reads('org_clinic')[0]!.accessKeyId!)).toEqual({ org: 'org_clinic' });
  expect(sts.tagsOf(reads('org_lawfirm')[0]!.accessKeyId!)).toEqual({ org: 'org_lawfirm' });
  // A fresh read (a rotated key) reads the secret again with the same session: no new AssumeRole.
  await settingsFromSecretsManager('org_clinic', { fresh: true });
  expect(reads('org_clinic')).toHaveLength(2);
  expect(sts.calls).toHaveLength(2);
});

it('is refused another organization’s secret: a session reads only secrets tagged with its own org, and the worker’s own role none', async () => {
  const clinicKey = reads('org_clinic')[0]!.accessKeyId!;
  const asClinic = new SecretsManagerClient({ endpoint: secrets.url, region: 'us-east-1', credentials: { accessKeyId: clinicKey, secretAccessKey: 'x', sessionToken: 'x' } });
  const { GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  await expect(asClinic.send(new GetSecretValueCommand({ SecretId: `ai-chat/${STAGE}/orgs/org_lawfirm` }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
  // Without the tenant role, the worker's own credentials read nothing.
  delete process.env.TENANT_SECRETS_ROLE_ARN;
  try {
    await expect(settingsFromSecretsManager('org_lawfirm', { fresh: true })).rejects.toThrow(/not authorized/);
  } finally {
    process.env.TENANT_SECRETS_ROLE_ARN = ROLE;
  }
});

it('cannot read a secret whose tag names another organization (a secret copied or mis-tagged)', async () => {
  secrets.put(`ai-chat/${STAGE}/orgs/org_copied`, JSON.stringify({ api_key: 'sk-copied-0000000000003' }), { org: 'org_clinic' });
  await expect(settingsFromSecretsManager('org_copied')).rejects.toThrow(/not authorized/);
  expect(sts.calls.at(-1)!.tags).toEqual({ org: 'org_copied' });
});
