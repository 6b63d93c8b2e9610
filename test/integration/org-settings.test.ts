/**
 * Per-organization model settings: from the environment (local use) and from one Secrets Manager
 * secret per org (the deployed stack), read through the real SDK against a local stub.
 */
import {
  OrgSettingsInvalid,
  orgSettings,
  settingsFromEnvironment,
  settingsFromSecretsManager,
} from '../../shared/platform/org-settings.js';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startStubSecretsManager, type StubSecretsManager } from '../../bin/local/stub-secrets-manager.js';
import { rejectionOf as thrown } from '../helpers/assertions.js';

/** Puts process.env back exactly as it was (keys added since are removed). */
function restoreEnv(saved: NodeJS.ProcessEnv): void {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
}

/** Every variable these tests read, cleared so the developer's own environment cannot leak in. */
function clearModelEnv(): void {
  for (const name of Object.keys(process.env)) {
    if (/(^|_)OPENAI_(API_KEY|BASE_URL|MODEL)$/.test(name) || name.startsWith('ORG_SECRET_')) delete process.env[name];
  }
}

describe('settingsFromEnvironment', () => {
  let saved: NodeJS.ProcessEnv;
  beforeEach(() => {
    saved = { ...process.env };
    clearModelEnv();
  });
  afterEach(() => restoreEnv(saved));

  it("reads an org's own {ORG}_OPENAI_* variables, org ids with underscores included", async () => {
    process.env.org_medical_clinic_OPENAI_API_KEY = 'sk-clinic';
    process.env.org_medical_clinic_OPENAI_BASE_URL = 'https://llm.clinic.example/v1';
    process.env.org_medical_clinic_OPENAI_MODEL = 'gpt-4o-mini';
    process.env.org_2abcXYZ_OPENAI_API_KEY = 'sk-clerk-style';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toEqual({
      apiKey: 'sk-clinic',
      baseUrl: 'https://llm.clinic.example/v1',
      model: 'gpt-4o-mini',
    });
    await expect(settingsFromEnvironment('org_2abcXYZ')).resolves.toEqual({ apiKey: 'sk-clerk-style', baseUrl: undefined, model: undefined });
    // A prefix of another org's id is another org.
    await expect(settingsFromEnvironment('org_medical')).resolves.toBeUndefined();
  });

  it('falls back to OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL as a set for an org without its own key', async () => {
    process.env.OPENAI_API_KEY = 'sk-global';
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9999/v1';
    process.env.OPENAI_MODEL = 'llama3';
    await expect(settingsFromEnvironment('org_lawfirm')).resolves.toEqual({
      apiKey: 'sk-global',
      baseUrl: 'http://127.0.0.1:9999/v1',
      model: 'llama3',
    });
    // The org's own base URL or model without its own key is not a set: the global set is used whole.
    process.env.org_lawfirm_OPENAI_BASE_URL = 'https://llm.lawfirm.example/v1';
    process.env.org_lawfirm_OPENAI_MODEL = 'their-model';
    await expect(settingsFromEnvironment('org_lawfirm')).resolves.toEqual({
      apiKey: 'sk-global',
      baseUrl: 'http://127.0.0.1:9999/v1',
      model: 'llama3',
    });
  });

  it("never sends an org's own key to the global base URL, nor uses the global model for it", async () => {
    process.env.OPENAI_API_KEY = 'sk-global';
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9999/v1';
    process.env.OPENAI_MODEL = 'llama3';
    process.env.org_medical_clinic_OPENAI_API_KEY = 'sk-clinic';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toEqual({ apiKey: 'sk-clinic', baseUrl: undefined, model: undefined });
    // Empty own values mean "none", not "take the global one".
    process.env.org_medical_clinic_OPENAI_BASE_URL = '';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toMatchObject({ apiKey: 'sk-clinic', baseUrl: undefined });
  });

  it('gives undefined when neither the org nor the environment has a key', async () => {
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toBeUndefined();
    // A base URL or model alone is not settings.
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9999/v1';
    process.env.OPENAI_MODEL = 'llama3';
    process.env.org_medical_clinic_OPENAI_MODEL = 'gpt-4o';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toBeUndefined();
    process.env.OPENAI_API_KEY = '';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toBeUndefined();
  });

  it('treats an empty {ORG}_OPENAI_API_KEY as "no own key" and falls back to the global set', async () => {
    // The config convention elsewhere (numberFrom, ORG_SECRET_PREFIX, the base URL and model here) is
    // that an empty variable is unset; an empty own key must not hide OPENAI_API_KEY.
    process.env.OPENAI_API_KEY = 'sk-global';
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9999/v1';
    process.env.org_medical_clinic_OPENAI_API_KEY = '';
    await expect(settingsFromEnvironment('org_medical_clinic')).resolves.toEqual({
      apiKey: 'sk-global',
      baseUrl: 'http://127.0.0.1:9999/v1',
      model: undefined,
    });
  });
});

describe('settingsFromSecretsManager', () => {
  const PREFIX = 'ai-chat/test/orgs/';
  let stub: StubSecretsManager;
  let saved: NodeJS.ProcessEnv;
  /** A distinct org id per use, so that the module's provider cache never carries over between tests. */
  let counter = 0;
  const freshOrg = (name: string) => `org_${name}_${++counter}`;

  beforeAll(async () => {
    saved = { ...process.env };
    clearModelEnv();
    stub = await startStubSecretsManager();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
      ORG_SECRET_PREFIX: PREFIX,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  afterAll(async () => {
    restoreEnv(saved);
    await stub?.close();
  });
  afterEach(() => {
    process.env.ORG_SECRET_PREFIX = PREFIX;
    delete process.env.ORG_SECRET_MAX_AGE_SECONDS;
  });

  it('reads {"api_key","base_url","model"} from the secret named <prefix><orgId>', async () => {
    const org = freshOrg('clinic');
    stub.put(`${PREFIX}${org}`, JSON.stringify({ api_key: 'sk-clinic', base_url: 'https://llm.clinic.example/v1', model: 'gpt-4o-mini' }));
    await expect(settingsFromSecretsManager(org)).resolves.toEqual({
      apiKey: 'sk-clinic',
      baseUrl: 'https://llm.clinic.example/v1',
      model: 'gpt-4o-mini',
    });
    expect(stub.requestsFor(`${PREFIX}${org}`)).toEqual([
      expect.objectContaining({ target: 'secretsmanager.GetSecretValue', secretId: `${PREFIX}${org}` }),
    ]);
  });

  it('leaves base_url and model out when the secret has none (or empty ones), ignoring other fields', async () => {
    const org = freshOrg('lawfirm');
    stub.put(`${PREFIX}${org}`, JSON.stringify({ api_key: 'sk-law', base_url: '', model: 42, note: 'rotated monthly' }));
    await expect(settingsFromSecretsManager(org)).resolves.toEqual({ apiKey: 'sk-law', baseUrl: undefined, model: undefined });
  });

  it('caches a secret: a second read within the cache age asks Secrets Manager nothing', async () => {
    const org = freshOrg('cached');
    const name = `${PREFIX}${org}`;
    stub.put(name, JSON.stringify({ api_key: 'sk-one' }));
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-one' });
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-one' });
    await expect(settingsFromSecretsManager(org, {})).resolves.toMatchObject({ apiKey: 'sk-one' });
    expect(stub.requestsFor(name)).toHaveLength(1);
  });

  it('picks up a rotated key with {fresh: true}, and keeps serving it from the cache afterwards', async () => {
    const org = freshOrg('rotated');
    const name = `${PREFIX}${org}`;
    stub.put(name, JSON.stringify({ api_key: 'sk-old' }));
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-old' });
    stub.put(name, JSON.stringify({ api_key: 'sk-new' }));
    // Still cached...
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-old' });
    expect(stub.requestsFor(name)).toHaveLength(1);
    // ...until asked fresh.
    await expect(settingsFromSecretsManager(org, { fresh: true })).resolves.toMatchObject({ apiKey: 'sk-new' });
    expect(stub.requestsFor(name)).toHaveLength(2);
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-new' });
    expect(stub.requestsFor(name)).toHaveLength(2);
  });

  it('reads every time when ORG_SECRET_MAX_AGE_SECONDS is 0', async () => {
    process.env.ORG_SECRET_MAX_AGE_SECONDS = '0';
    const org = freshOrg('uncached');
    const name = `${PREFIX}${org}`;
    stub.put(name, JSON.stringify({ api_key: 'sk-a' }));
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-a' });
    stub.put(name, JSON.stringify({ api_key: 'sk-b' }));
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-b' });
    expect(stub.requestsFor(name)).toHaveLength(2);
  });

  it('gives undefined for an org without a secret, and does not remember that it had none', async () => {
    const org = freshOrg('missing');
    const name = `${PREFIX}${org}`;
    await expect(settingsFromSecretsManager(org)).resolves.toBeUndefined();
    expect(stub.requestsFor(name)).toHaveLength(1);
    stub.put(name, JSON.stringify({ api_key: 'sk-created' }));
    await expect(settingsFromSecretsManager(org)).resolves.toMatchObject({ apiKey: 'sk-created' });
  });

  it('gives undefined for a secret scheduled for deletion (npm run org -- remove), which AWS refuses to read', async () => {
    const org = freshOrg('removed');
    const name = `${PREFIX}${org}`;
    stub.put(name, JSON.stringify({ api_key: 'sk-removed' }));
    await new SecretsManagerClient({}).send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    await expect(settingsFromSecretsManager(org)).resolves.toBeUndefined();
  });

  it('does not mistake a refused read (AccessDenied) for "no settings"', async () => {
    const org = freshOrg('denied');
    stub.deny(`${PREFIX}${org}`);
    const error = await thrown(settingsFromSecretsManager(org));
    expect(error).not.toBeInstanceOf(OrgSettingsInvalid);
    expect(JSON.stringify({ name: error.name, cause: (error as { cause?: { name?: string } }).cause?.name })).toMatch(
      /AccessDeniedException/,
    );
  });

  it('throws OrgSettingsInvalid naming the org for a secret that is not JSON', async () => {
    const org = freshOrg('garbled');
    stub.put(`${PREFIX}${org}`, 'sk-just-the-key');
    const error = await thrown(settingsFromSecretsManager(org));
    expect(error).toBeInstanceOf(OrgSettingsInvalid);
    expect(error.message).toBe(`The settings secret of organization ${org} is not valid JSON.`);
  });

  it.each([
    ['no api_key', { base_url: 'https://x.example/v1' }],
    ['an empty api_key', { api_key: '' }],
    ['a non-string api_key', { api_key: 12345 }],
    ['an array', ['sk-in-an-array']],
    ['a JSON string', 'sk-quoted'],
  ])('throws OrgSettingsInvalid naming the org for a secret with %s', async (_what, content) => {
    const org = freshOrg('incomplete');
    stub.put(`${PREFIX}${org}`, JSON.stringify(content));
    const error = await thrown(settingsFromSecretsManager(org));
    expect(error).toBeInstanceOf(OrgSettingsInvalid);
    expect(error.message).toBe(`The settings secret of organization ${org} has no api_key.`);
  });

  it('throws OrgSettingsInvalid (not a TypeError) for a secret holding JSON null', async () => {
    const org = freshOrg('null');
    stub.put(`${PREFIX}${org}`, 'null');
    const error = await thrown(settingsFromSecretsManager(org));
    expect(error).toBeInstanceOf(OrgSettingsInvalid);
    expect(error.message).toContain(org);
  });

  it('orgSettings reads Secrets Manager when ORG_SECRET_PREFIX is set, and the environment otherwise', async () => {
    const org = freshOrg('switch');
    const name = `${PREFIX}${org}`;
    stub.put(name, JSON.stringify({ api_key: 'sk-from-secret' }));
    process.env[`${org}_OPENAI_API_KEY`] = 'sk-from-env';
    try {
      await expect(orgSettings(org)).resolves.toMatchObject({ apiKey: 'sk-from-secret' });
      expect(stub.requestsFor(name)).toHaveLength(1);
      await expect(orgSettings(org, { fresh: true })).resolves.toMatchObject({ apiKey: 'sk-from-secret' });
      expect(stub.requestsFor(name)).toHaveLength(2);

      const before = stub.requests.length;
      delete process.env.ORG_SECRET_PREFIX;
      await expect(orgSettings(org)).resolves.toEqual({ apiKey: 'sk-from-env', baseUrl: undefined, model: undefined });
      process.env.ORG_SECRET_PREFIX = '';
      await expect(orgSettings(org, { fresh: true })).resolves.toMatchObject({ apiKey: 'sk-from-env' });
      expect(stub.requests.length).toBe(before);
    } finally {
      delete process.env[`${org}_OPENAI_API_KEY`];
    }
  });
});
