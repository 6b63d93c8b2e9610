/**
 * The operator command `npm run org`: shared/org-admin.ts through the real SDK against the Secrets
 * Manager stub, then bin/org/cli.ts itself run as a child process. The key must never come back in a
 * result, an error message, or the command's output.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { StageSettingsSchema, stageSettings } from '../../infra/stage.js';
import {
  maskKey,
  OrgAdminError,
  removeOrgSettings,
  secretNameFor,
  setOrgSettings,
  showOrgSettings,
} from '../../bin/org/secrets.js';
import { STAGE_PATTERN } from '../../shared/contract/rules.js';
import { settingsFromSecretsManager } from '../../shared/platform/org-settings.js';
import { startStubSecretsManager, type StubSecretsManager } from '../../bin/local/stub-secrets-manager.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { rejectionOf as thrown } from '../helpers/assertions.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { parseLimit, setOrgPolicy } from '../../bin/org/org-policy.js';
import { startLocalDynamo, type LocalDynamo } from '../../bin/local/dynamodb.js';

const ROOT = PROJECT_ROOT;
const STAGE = 'test';
const KEY = 'sk-proj-Secret0123456789abcdefWXYZ';
const OTHER_KEY = 'sk-rotated-9876543210zyxwQRST';
const DAY_MS = 24 * 60 * 60 * 1000;

/** Neither the key nor any 8-character piece of it beyond its mask is anywhere in the value. */
function expectNoKey(value: unknown, ...keys: string[]): void {
  const text =
    value instanceof Error ? `${value.name} ${value.message} ${value.stack ?? ''} ${JSON.stringify(value)}` : JSON.stringify(value) ?? String(value);
  for (const key of keys) {
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(3, 11));
  }
}

describe('org-admin', () => {
  let stub: StubSecretsManager;
  let client: SecretsManagerClient;
  let counter = 0;
  /** A distinct org per use, so tests share no secret. */
  const freshOrg = (name: string) => `org_${name}_${++counter}`;
  const nameOf = (orgId: string) => `ai-chat/${STAGE}/orgs/${orgId}`;
  const stored = (orgId: string) => JSON.parse(stub.get(nameOf(orgId))!.value);
  const operations = (orgId: string) => stub.requestsFor(nameOf(orgId)).map((request) => request.target?.replace('secretsmanager.', ''));

  beforeAll(async () => {
    stub = await startStubSecretsManager();
    client = new SecretsManagerClient({
      endpoint: stub.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
  });
  afterAll(async () => {
    client?.destroy();
    await stub?.close();
  });

  describe('naming and rules', () => {
    it('names the secret as the stack does: <orgSecretPrefix of the stage><orgId>', () => {
      const prefix = stageSettings(() => undefined, { STAGE: 'prod', AI_CHAT_ACCOUNT: '123456789012', AI_CHAT_REGION: 'eu-west-1' }).orgSecretPrefix;
      expect(secretNameFor({ orgId: 'org_medical_clinic', stage: 'prod' })).toBe(`${prefix}org_medical_clinic`);
      expect(secretNameFor({ orgId: 'org_medical_clinic', stage: 'prod' })).toBe('ai-chat/prod/orgs/org_medical_clinic');
    });

    it.each(['prod', 'dev', 'pr-123', 'a', 'a'.repeat(20), 'Prod', '1prod', '-x', 'a'.repeat(21), 'pr_1', ''])(
      'judges the stage name %p as infra/stage.ts does',
      (stage) => {
        expect(STAGE_PATTERN.test(stage)).toBe(StageSettingsSchema.shape.stage.safeParse(stage).success);
      },
    );

    it.each([
      ['', '****'],
      ['sk-short', '****'],
      ['sk-12345678', '****'],
      ['sk-123456789', 'sk-…6789'],
      [KEY, 'sk-…WXYZ'],
    ])('masks the key %p as %p: at most 3 first and 4 last characters, nothing under 12', (key, masked) => {
      expect(maskKey(key)).toBe(masked);
    });
  });

  describe('set', () => {
    it('creates a missing secret with the key, base URL and model, a description and the tags app, stage, org', async () => {
      const org = freshOrg('new');
      const result = await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, baseUrl: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
      expect(result).toEqual({
        orgId: org,
        stage: STAGE,
        secretName: nameOf(org),
        arn: expect.stringMatching(new RegExp(`^arn:aws:secretsmanager:us-east-1:\\d{12}:secret:${nameOf(org)}-\\w{6}$`)),
        action: 'created',
        restored: false,
        keyChanged: true,
        keyMasked: 'sk-…WXYZ',
        baseUrl: 'https://llm.example.com/v1',
        model: 'gpt-4o-mini',
      });
      expectNoKey(result, KEY);
      expect(stored(org)).toEqual({ api_key: KEY, base_url: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
      const secret = stub.get(nameOf(org))!;
      expect(secret.description).toContain(org);
      expect(secret.description).toContain(`stage ${STAGE}`);
      expectNoKey(secret.description, KEY);
      expect(secret.tags).toEqual([
        { Key: 'app', Value: 'ai-chat' },
        { Key: 'stage', Value: STAGE },
        { Key: 'org', Value: org },
      ]);
      expect(operations(org)).toEqual(['DescribeSecret', 'CreateSecret']);
    });

    it('stores only the fields given: no empty base_url or model in a new secret', async () => {
      const org = freshOrg('bare');
      const result = await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, baseUrl: '', model: '' });
      expect(result).not.toHaveProperty('baseUrl');
      expect(result).not.toHaveProperty('model');
      expect(stored(org)).toEqual({ api_key: KEY });
    });

    it('rotates the key of an existing secret with PutSecretValue, keeping base URL, model and other fields', async () => {
      const org = freshOrg('rotate');
      stub.put(nameOf(org), JSON.stringify({ api_key: KEY, base_url: 'https://llm.example.com/v1', model: 'llama3', note: 'rotated monthly' }), { org });
      const result = await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: OTHER_KEY });
      expect(result).toMatchObject({ action: 'updated', keyChanged: true, keyMasked: 'sk-…QRST', baseUrl: 'https://llm.example.com/v1', model: 'llama3' });
      expectNoKey(result, KEY, OTHER_KEY);
      expect(stored(org)).toEqual({ api_key: OTHER_KEY, base_url: 'https://llm.example.com/v1', model: 'llama3', note: 'rotated monthly' });
      expect(operations(org)).toEqual(['DescribeSecret', 'GetSecretValue', 'PutSecretValue']);
    });

    it('tags a secret made without the tag org, which the workers’ tenant role needs to read it, and show says so until then', async () => {
      const org = freshOrg('untagged');
      stub.put(nameOf(org), JSON.stringify({ api_key: KEY }));
      expect((await showOrgSettings(client, { orgId: org, stage: STAGE })).problem).toBe(
        `The secret is not tagged org=${org}: the workers cannot read it. Run set again for this organization to tag it.`,
      );
      const result = await setOrgSettings(client, { orgId: org, stage: STAGE, model: 'gpt-4o-mini' });
      expect(result).toMatchObject({ action: 'updated', keyChanged: false });
      expect(operations(org)).toEqual(['DescribeSecret', 'GetSecretValue', 'DescribeSecret', 'TagResource', 'GetSecretValue', 'PutSecretValue']);
      expect(stub.get(nameOf(org))!.tags).toContainEqual({ Key: 'org', Value: org });
      expect((await showOrgSettings(client, { orgId: org, stage: STAGE })).problem).toBeUndefined();
    });

    it('what it writes is what the workers read (shared/org-settings.ts)', async () => {
      const org = freshOrg('roundtrip');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, baseUrl: 'http://127.0.0.1:8080/v1', model: 'org/model:7b' });
      const saved = { ...process.env };
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        ORG_SECRET_PREFIX: `ai-chat/${STAGE}/orgs/`,
      });
      try {
        await expect(settingsFromSecretsManager(org)).resolves.toEqual({ apiKey: KEY, baseUrl: 'http://127.0.0.1:8080/v1', model: 'org/model:7b' });
        await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: OTHER_KEY, baseUrl: '' });
        await expect(settingsFromSecretsManager(org, { fresh: true })).resolves.toEqual({ apiKey: OTHER_KEY, baseUrl: undefined, model: 'org/model:7b' });
      } finally {
        for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
        Object.assign(process.env, saved);
      }
    });

    it('changes only the base URL or the model without a key, keeping the stored key', async () => {
      const org = freshOrg('fields');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY });
      const withUrl = await setOrgSettings(client, { orgId: org, stage: STAGE, baseUrl: 'https://llm.example.com/v1' });
      expect(withUrl).toMatchObject({ action: 'updated', keyChanged: false, keyMasked: 'sk-…WXYZ', baseUrl: 'https://llm.example.com/v1' });
      expect(withUrl).not.toHaveProperty('model');
      const withModel = await setOrgSettings(client, { orgId: org, stage: STAGE, model: 'gpt-4o-mini' });
      expect(withModel).toMatchObject({ action: 'updated', keyChanged: false, baseUrl: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
      expectNoKey([withUrl, withModel], KEY);
      expect(stored(org)).toEqual({ api_key: KEY, base_url: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
    });

    it('writes nothing when the secret already holds what is asked', async () => {
      const org = freshOrg('same');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, model: 'gpt-4o-mini' });
      const versionId = stub.get(nameOf(org))!.versionId;
      const result = await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, model: 'gpt-4o-mini' });
      expect(result).toMatchObject({ action: 'unchanged', keyChanged: false, model: 'gpt-4o-mini' });
      expect(stub.get(nameOf(org))!.versionId).toBe(versionId);
      expect(operations(org).filter((operation) => operation === 'PutSecretValue')).toHaveLength(0);
    });

    it("removes the base URL or the model given as ''", async () => {
      const org = freshOrg('clear');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, baseUrl: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
      const noUrl = await setOrgSettings(client, { orgId: org, stage: STAGE, baseUrl: '' });
      expect(noUrl).not.toHaveProperty('baseUrl');
      expect(stored(org)).toEqual({ api_key: KEY, model: 'gpt-4o-mini' });
      const noModel = await setOrgSettings(client, { orgId: org, stage: STAGE, model: '' });
      expect(noModel).not.toHaveProperty('model');
      expect(stored(org)).toEqual({ api_key: KEY });
    });

    it('refuses to make a secret without a key: a new organization needs one', async () => {
      const org = freshOrg('keyless');
      const error = await thrown(setOrgSettings(client, { orgId: org, stage: STAGE, model: 'gpt-4o-mini' }));
      expect(error).toBeInstanceOf(OrgAdminError);
      expect(error.kind).toBe('invalid_input');
      expect(error.message).toMatch(new RegExp(`${org} has no settings secret on stage ${STAGE} yet: a new organization needs a key`));
      expect(stub.get(nameOf(org))).toBeUndefined();
      expect(operations(org)).toEqual(['DescribeSecret']);
    });

    it('refuses to keep a key that the stored secret does not have, without printing what it holds', async () => {
      const org = freshOrg('broken');
      stub.put(nameOf(org), KEY); // the key alone, not JSON
      const error = await thrown(setOrgSettings(client, { orgId: org, stage: STAGE, model: 'gpt-4o' }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringContaining('is not a JSON object') });
      expectNoKey(error, KEY);
      // With a key, it is repaired.
      await expect(setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: OTHER_KEY, model: 'gpt-4o' })).resolves.toMatchObject({
        action: 'updated',
        keyChanged: true,
      });
      expect(stored(org)).toEqual({ api_key: OTHER_KEY, model: 'gpt-4o' });
    });

    it('refuses a set that changes nothing', async () => {
      const error = await thrown(setOrgSettings(client, { orgId: freshOrg('nothing'), stage: STAGE }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(/^Nothing to set/) });
    });
  });

  describe('show', () => {
    it('shows the settings with the key masked, field names only for other fields, and when it last changed', async () => {
      const org = freshOrg('show');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, baseUrl: 'https://llm.example.com/v1', model: 'gpt-4o-mini' });
      const shown = await showOrgSettings(client, { orgId: org, stage: STAGE });
      expect(shown).toEqual({
        orgId: org,
        stage: STAGE,
        secretName: nameOf(org),
        arn: stub.get(nameOf(org))!.arn,
        description: expect.stringContaining(org),
        keyMasked: 'sk-…WXYZ',
        baseUrl: 'https://llm.example.com/v1',
        model: 'gpt-4o-mini',
        otherFields: [],
        createdDate: expect.any(Date),
        lastChangedDate: expect.any(Date),
        tags: { app: 'ai-chat', stage: STAGE, org },
      });
      expect(Math.abs(shown.lastChangedDate!.getTime() - Date.now())).toBeLessThan(60_000);
      expectNoKey(shown, KEY);

      stub.put(nameOf(org), JSON.stringify({ api_key: 'sk-tiny1', extra_secret: KEY }));
      const short = await showOrgSettings(client, { orgId: org, stage: STAGE });
      expect(short).toMatchObject({ keyMasked: '****', otherFields: ['extra_secret'] });
      expectNoKey(short, KEY, 'sk-tiny1');
    });

    it('says what is wrong with a secret the workers cannot use, without its content', async () => {
      const org = freshOrg('unusable');
      stub.put(nameOf(org), JSON.stringify({ base_url: 'https://llm.example.com/v1', token: KEY }));
      const noKey = await showOrgSettings(client, { orgId: org, stage: STAGE });
      expect(noKey).toMatchObject({ problem: 'The secret has no api_key: the workers cannot use it.', baseUrl: 'https://llm.example.com/v1' });
      expect(noKey).not.toHaveProperty('keyMasked');
      stub.put(nameOf(org), KEY);
      const notJson = await showOrgSettings(client, { orgId: org, stage: STAGE });
      expect(notJson.problem).toBe('The secret is not a JSON object: the workers cannot use it.');
      expectNoKey([noKey, notJson], KEY);
    });

    it('is not_found for an organization without a secret', async () => {
      const org = freshOrg('nobody');
      const error = await thrown(showOrgSettings(client, { orgId: org, stage: STAGE }));
      expect(error).toMatchObject({ kind: 'not_found', message: `Organization ${org} has no settings secret on stage ${STAGE} (no secret ${nameOf(org)}).` });
    });
  });

  describe('remove', () => {
    it('schedules the deletion with a 7-day recovery window; the value is then unreadable, and set restores it', async () => {
      const org = freshOrg('remove');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, model: 'gpt-4o-mini' });
      const removed = await removeOrgSettings(client, { orgId: org, stage: STAGE });
      expect(removed).toMatchObject({ orgId: org, stage: STAGE, secretName: nameOf(org), action: 'scheduled', recoveryWindowInDays: 7 });
      expect(Math.abs(removed.deletionDate!.getTime() - (Date.now() + 7 * DAY_MS))).toBeLessThan(60_000);
      expect(stub.get(nameOf(org))?.deletedDate).toEqual(removed.deletionDate);
      // As in AWS, a secret scheduled for deletion can no longer be read.
      await expect(client.send(new GetSecretValueCommand({ SecretId: nameOf(org) }))).rejects.toMatchObject({ name: 'InvalidRequestException' });

      const shown = await showOrgSettings(client, { orgId: org, stage: STAGE });
      expect(shown).toMatchObject({ deletionDate: removed.deletionDate, problem: expect.stringContaining('scheduled for deletion') });
      expect(shown).not.toHaveProperty('keyMasked');
      await expect(removeOrgSettings(client, { orgId: org, stage: STAGE })).resolves.toMatchObject({ action: 'already_scheduled' });

      const restored = await setOrgSettings(client, { orgId: org, stage: STAGE, model: 'gpt-4o' });
      expect(restored).toMatchObject({ action: 'updated', restored: true, keyChanged: false, keyMasked: 'sk-…WXYZ', model: 'gpt-4o' });
      expect(stub.get(nameOf(org))?.deletedDate).toBeUndefined();
      expect(stored(org)).toEqual({ api_key: KEY, model: 'gpt-4o' });
      expectNoKey([removed, shown, restored], KEY);
    });

    it('with force, deletes at once: every read then answers ResourceNotFoundException', async () => {
      const org = freshOrg('force');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY });
      const removed = await removeOrgSettings(client, { orgId: org, stage: STAGE, force: true });
      expect(removed).toEqual({ orgId: org, stage: STAGE, secretName: nameOf(org), arn: expect.any(String), action: 'deleted' });
      expect(stub.get(nameOf(org))).toBeUndefined();
      await expect(client.send(new GetSecretValueCommand({ SecretId: nameOf(org) }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      await expect(thrown(showOrgSettings(client, { orgId: org, stage: STAGE }))).resolves.toMatchObject({ kind: 'not_found' });
      // A new secret of the same name can be made at once.
      await expect(setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: OTHER_KEY })).resolves.toMatchObject({ action: 'created' });
    });

    it('with force, also deletes a secret already scheduled for deletion', async () => {
      const org = freshOrg('forcescheduled');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY });
      await removeOrgSettings(client, { orgId: org, stage: STAGE });
      await expect(removeOrgSettings(client, { orgId: org, stage: STAGE, force: true })).resolves.toMatchObject({ action: 'deleted' });
      expect(stub.get(nameOf(org))).toBeUndefined();
    });

    it('is not_found for an organization without a secret', async () => {
      const org = freshOrg('ghost');
      await expect(thrown(removeOrgSettings(client, { orgId: org, stage: STAGE }))).resolves.toMatchObject({
        kind: 'not_found',
        message: expect.stringContaining(nameOf(org)),
      });
      expect(operations(org)).toEqual(['DescribeSecret']);
    });
  });

  describe('invalid input', () => {
    const before = () => stub.requests.length;

    it.each(['bad', 'org_', 'org__x', 'org_x_', 'ORG_x', 'org_x#1', 'org_x/../y', '', KEY])(
      'refuses the organization id %p with a sentence saying the format, asking nothing of AWS',
      async (orgId) => {
        const count = before();
        for (const call of [
          setOrgSettings(client, { orgId, stage: STAGE, apiKey: KEY }),
          showOrgSettings(client, { orgId, stage: STAGE }),
          removeOrgSettings(client, { orgId, stage: STAGE, force: true }),
        ]) {
          const error = await thrown(call);
          expect(error).toBeInstanceOf(OrgAdminError);
          expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(/^The organization id is not valid: it must be "org_" followed by letters and digits/) });
          expectNoKey(error, KEY);
        }
        expect(stub.requests.length).toBe(count);
      },
    );

    it.each(['Prod', '1prod', 'a'.repeat(21), 'pr_1', 'prod/x', ''])('refuses the stage %p, asking nothing of AWS', async (stage) => {
      const count = before();
      const error = await thrown(setOrgSettings(client, { orgId: 'org_x', stage, apiKey: KEY }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(/^The stage name is not valid: it must start with a lower-case letter/) });
      expectNoKey(error, KEY);
      expect(stub.requests.length).toBe(count);
    });

    it.each([
      ['not a url', /^The base URL is not valid/],
      ['llm.example.com/v1', /^The base URL is not valid/],
      ['ftp://llm.example.com/v1', /^The base URL must be an http or https URL, not ftp\./],
      ['javascript:alert(1)', /^The base URL must be an http or https URL/],
      [`https://user:${KEY}@llm.example.com/v1`, /^The base URL must not hold a user name or password\./],
    ])('refuses the base URL %p', async (baseUrl, message) => {
      const count = before();
      const error = await thrown(setOrgSettings(client, { orgId: 'org_x', stage: STAGE, apiKey: KEY, baseUrl }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(message) });
      expectNoKey(error, KEY);
      expect(stub.requests.length).toBe(count);
    });

    it.each(['gpt 4o', 'x'.repeat(101), 'gpt-4o;rm', 'modèle'])('refuses the model %p', async (model) => {
      const count = before();
      const error = await thrown(setOrgSettings(client, { orgId: 'org_x', stage: STAGE, apiKey: KEY, model }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(/^The model name is not valid/) });
      expect(stub.requests.length).toBe(count);
    });

    it.each(['x'.repeat(100), 'gpt-4o-mini', 'meta-llama/Llama-3.1-8B-Instruct', 'llama3:8b', 'ft:gpt-4o:org@x'])('accepts the model %p', async (model) => {
      const org = freshOrg('model');
      await expect(setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY, model })).resolves.toMatchObject({ model });
    });

    it.each([
      ['an empty key', '', /^The key is empty/],
      ['a key with a space', `${KEY} ${KEY}`, /^The key must be one line of printable characters without spaces\./],
      ['a key on two lines', `${KEY}\n${OTHER_KEY}`, /^The key must be one line/],
      ['a huge key', KEY.repeat(200), /^The key is longer than 4096 characters/],
    ])('refuses %s, without repeating it', async (_what, apiKey, message) => {
      const count = before();
      const error = await thrown(setOrgSettings(client, { orgId: 'org_x', stage: STAGE, apiKey }));
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(message) });
      expectNoKey(error, KEY, OTHER_KEY);
      expect(stub.requests.length).toBe(count);
    });

    it('refuses a recovery window outside 7-30 days', async () => {
      for (const recoveryWindowInDays of [0, 6, 31, 7.5]) {
        await expect(thrown(removeOrgSettings(client, { orgId: 'org_x', stage: STAGE, recoveryWindowInDays }))).resolves.toMatchObject({
          kind: 'invalid_input',
        });
      }
    });
  });

  describe('AWS failures', () => {
    it('are kind aws, naming the operation, the secret and the AWS error, never the key', async () => {
      const org = freshOrg('denied');
      stub.deny(nameOf(org));
      for (const call of [
        setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY }),
        showOrgSettings(client, { orgId: org, stage: STAGE }),
        removeOrgSettings(client, { orgId: org, stage: STAGE }),
      ]) {
        const error = await thrown(call);
        expect(error).toBeInstanceOf(OrgAdminError);
        expect(error.kind).toBe('aws');
        expect(error.message).toMatch(new RegExp(`^Secrets Manager DescribeSecret on ${nameOf(org)} failed: AccessDeniedException: .*not authorized`));
        expectNoKey(error, KEY);
      }
    });

    it('of a write are reported with the key masked even if AWS were to echo it', async () => {
      const org = freshOrg('echo');
      await setOrgSettings(client, { orgId: org, stage: STAGE, apiKey: KEY });
      // A client whose PutSecretValue fails with a message holding the value it was sent.
      const echoing = new SecretsManagerClient({ endpoint: stub.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      echoing.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'PutSecretValueCommand') {
            const input = (args as { input: { SecretString: string } }).input;
            throw Object.assign(new Error(`Value ${input.SecretString} was refused`), { name: 'ValidationException' });
          }
          return next(args);
        },
        { step: 'initialize' },
      );
      try {
        const error = await thrown(setOrgSettings(echoing, { orgId: org, stage: STAGE, apiKey: OTHER_KEY }));
        expect(error).toMatchObject({ kind: 'aws', message: expect.stringMatching(/^Secrets Manager PutSecretValue on .* failed: ValidationException: Value .*sk-…QRST.* was refused$/) });
        expectNoKey(error, KEY, OTHER_KEY);
      } finally {
        echoing.destroy();
      }
    });
  });
});

describe('npm run org (bin/org/cli.ts as a child process)', () => {
  let stub: StubSecretsManager;
  beforeAll(async () => {
    stub = await startStubSecretsManager();
  });
  afterAll(async () => {
    await stub?.close();
  });

  interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
  }

  /** Runs the command as an operator would, the key (if any) piped on standard input. */
  function org(args: string[], stdin = ''): Promise<Run> {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'x',
      AWS_SECRET_ACCESS_KEY: 'x',
    };
    for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_DEFAULT_PROFILE', 'NODE_OPTIONS']) delete env[name];
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['bin/org/cli.ts', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.stdin.on('error', () => undefined); // the command may exit before reading it
    child.stdin.end(stdin);
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  const expectKeyNowhere = (run: Run, ...keys: string[]) => {
    for (const key of keys) {
      expect(run.stdout).not.toContain(key);
      expect(run.stderr).not.toContain(key);
      expect(run.stdout + run.stderr).not.toContain(key.slice(3, 11));
    }
  };

  it('set reads the key from stdin (trailing newline trimmed), show prints it masked, remove schedules the deletion', async () => {
    const name = 'ai-chat/prod/orgs/org_cli_clinic';
    const created = await org(['set', 'org_cli_clinic', '--stage', 'prod', '--key-stdin', '--model', 'gpt-4o-mini'], `${KEY}\n`);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    expect(created.stdout).toContain(`Created the settings secret of organization org_cli_clinic on stage prod (${name}).`);
    expect(created.stdout).toMatch(/key\s+sk-…WXYZ \(new\)/);
    expect(created.stdout).toMatch(/model\s+gpt-4o-mini/);
    expect(JSON.parse(stub.get(name)!.value)).toEqual({ api_key: KEY, model: 'gpt-4o-mini' });

    const updated = await org(['set', 'org_cli_clinic', '--stage', 'prod', '--base-url', 'https://llm.example.com/v1', '--model', '']);
    expect(updated).toMatchObject({ code: 0, stderr: '' });
    expect(updated.stdout).toMatch(/key\s+sk-…WXYZ \(kept\)/);
    expect(JSON.parse(stub.get(name)!.value)).toEqual({ api_key: KEY, base_url: 'https://llm.example.com/v1' });

    const shown = await org(['show', 'org_cli_clinic', '--stage', 'prod']);
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(shown.stdout).toMatch(/organization\s+org_cli_clinic\n/);
    expect(shown.stdout).toMatch(/stage\s+prod\n/);
    expect(shown.stdout).toMatch(new RegExp(`secret\\s+${name}\\n`));
    expect(shown.stdout).toMatch(/key\s+sk-…WXYZ\n/);
    expect(shown.stdout).toMatch(/base URL\s+https:\/\/llm\.example\.com\/v1\n/);
    expect(shown.stdout).toMatch(/last changed\s+\d{4}-\d\d-\d\dT/);

    const removed = await org(['remove', 'org_cli_clinic', '--stage', 'prod']);
    expect(removed).toMatchObject({ code: 0, stderr: '' });
    expect(removed.stdout).toMatch(/^Scheduled the settings secret of organization org_cli_clinic on stage prod .* for deletion on \d{4}-.*\(recovery window 7 days\)/);
    expect(stub.get(name)?.deletedDate).toBeInstanceOf(Date);

    for (const run of [created, updated, shown, removed]) expectKeyNowhere(run, KEY);
  });

  it('exits 2 with a sentence for an invalid org id, stage, empty key or a key on the command line, asking nothing of AWS', async () => {
    const count = stub.requests.length;
    const badOrg = await org(['show', 'clinic', '--stage', 'prod']);
    expect(badOrg).toMatchObject({ code: 2, stdout: '' });
    expect(badOrg.stderr).toMatch(/^The organization id is not valid: it must be "org_" followed by letters and digits/);

    const badStage = await org(['show', 'org_x', '--stage', 'Prod']);
    expect(badStage).toMatchObject({ code: 2, stdout: '' });
    expect(badStage.stderr).toMatch(/^The stage name is not valid/);

    const emptyKey = await org(['set', 'org_x', '--stage', 'prod', '--key-stdin'], '\n');
    expect(emptyKey).toMatchObject({ code: 2, stdout: '' });
    expect(emptyKey.stderr).toMatch(/^The key is empty/);

    const keyInArgv = await org(['set', 'org_x', '--stage', 'prod', `--key=${KEY}`]);
    expect(keyInArgv).toMatchObject({ code: 2, stdout: '' });
    expect(keyInArgv.stderr).toMatch(/^The key is never taken from the command line/);

    const spacedKey = await org(['set', 'org_x', '--stage', 'prod', '--key-stdin'], `${KEY} ${OTHER_KEY}\n`);
    expect(spacedKey).toMatchObject({ code: 2, stdout: '' });
    expect(spacedKey.stderr).toMatch(/^The key must be one line/);

    for (const run of [badOrg, badStage, emptyKey, keyInArgv, spacedKey]) expectKeyNowhere(run, KEY, OTHER_KEY);
    expect(stub.requests.length).toBe(count);
  });

  it('prints the usage and exits 2 for an unknown command, and exits 1 when Secrets Manager says no', async () => {
    const unknown = await org(['rotate', 'org_x', '--stage', 'prod']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^Unknown command "rotate": give set, show or remove\./);
    expect(unknown.stderr).toContain('Usage: npm run org -- <command> <org_id> --stage <stage> [options]');

    const help = await org(['--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: npm run org/);

    const missing = await org(['show', 'org_cli_nobody', '--stage', 'prod']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('Organization org_cli_nobody has no settings secret on stage prod (no secret ai-chat/prod/orgs/org_cli_nobody).\n');

    stub.deny('ai-chat/prod/orgs/org_cli_denied');
    const denied = await org(['set', 'org_cli_denied', '--stage', 'prod', '--key-stdin'], KEY);
    expect(denied).toMatchObject({ code: 1, stdout: '' });
    expect(denied.stderr).toMatch(/^Secrets Manager DescribeSecret on ai-chat\/prod\/orgs\/org_cli_denied failed: AccessDeniedException/);
    expectKeyNowhere(denied, KEY);
  });
});

describe('npm run org: webhook, budget and retention', () => {
  let stub: StubSecretsManager;
  let dynamo: LocalDynamo;
  let secrets: SecretsManagerClient;
  let dynamoClient: DynamoDBClient;
  const TABLE = 'ai-chat-test-TableCD117FA1-1A2B3C4D5E6F';
  const HOOK = 'https://hooks.example.com/ai-chat';

  beforeAll(async () => {
    stub = await startStubSecretsManager();
    dynamo = await startLocalDynamo({ tableName: TABLE });
    secrets = new SecretsManagerClient({ endpoint: stub.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  });
  afterAll(async () => {
    secrets?.destroy();
    dynamoClient?.destroy();
    await dynamo?.close();
    await stub?.close();
  });

  const policyItem = async (orgId: string) =>
    (await DynamoDBDocumentClient.from(dynamoClient).send(new GetCommand({ TableName: TABLE, Key: { pk: `ORG#${orgId}#POLICY`, sk: 'POLICY' } }))).Item;

  it('keeps them in the settings secret, copies the webhook to its own secret and the policy to the table, and makes a signing secret once', async () => {
    const orgId = 'org_policy_a';
    await setOrgSettings(secrets, { orgId, stage: STAGE, apiKey: KEY });
    const set = await setOrgPolicy({ secrets, dynamo: dynamoClient }, { orgId, stage: STAGE, webhookUrl: HOOK, monthlyTokenBudget: 100_000, retentionDays: 30 });
    expect(set).toMatchObject({ table: TABLE, webhookUrl: HOOK, monthlyTokenBudget: 100_000, retentionDays: 30, generatedWebhookSecret: expect.stringMatching(/^whsec_/) });
    const generated = set.generatedWebhookSecret!;
    expect(set.webhookSecretMasked).toBe(`whsec_…${generated.slice(-4)}`);
    expect(JSON.parse(stub.get(`ai-chat/${STAGE}/orgs/${orgId}`)!.value)).toEqual({ api_key: KEY, webhook_url: HOOK, webhook_secret: generated, monthly_token_budget: 100_000, retention_days: 30 });
    const webhook = stub.get(`ai-chat/${STAGE}/orgs/${orgId}/webhook`)!;
    expect(JSON.parse(webhook.value)).toEqual({ url: HOOK, secret: generated });
    expect(webhook.tags).toContainEqual({ Key: 'org', Value: orgId });
    expect(await policyItem(orgId)).toMatchObject({ monthly_token_budget: 100_000, retention_days: 30, webhook: true });
    // The secret is kept on the next set; the key survives a policy change and vice versa.
    const again = await setOrgPolicy({ secrets, dynamo: dynamoClient }, { orgId, stage: STAGE, retentionDays: null, table: TABLE });
    expect(again.generatedWebhookSecret).toBeUndefined();
    expect(JSON.parse(stub.get(`ai-chat/${STAGE}/orgs/${orgId}`)!.value)).toEqual({ api_key: KEY, webhook_url: HOOK, webhook_secret: generated, monthly_token_budget: 100_000 });
    await setOrgSettings(secrets, { orgId, stage: STAGE, model: 'gpt-4o-mini' });
    expect(JSON.parse(stub.get(`ai-chat/${STAGE}/orgs/${orgId}`)!.value)).toMatchObject({ webhook_secret: generated, model: 'gpt-4o-mini' });
    expect(await showOrgSettings(secrets, { orgId, stage: STAGE })).toMatchObject({ webhookUrl: HOOK, webhookSecretMasked: `whsec_…${generated.slice(-4)}`, monthlyTokenBudget: 100_000, otherFields: [] });
    // Removing the webhook removes its secret and flag.
    await setOrgPolicy({ secrets, dynamo: dynamoClient }, { orgId, stage: STAGE, webhookUrl: '' });
    expect(stub.get(`ai-chat/${STAGE}/orgs/${orgId}/webhook`)).toBeUndefined();
    expect(JSON.parse(stub.get(`ai-chat/${STAGE}/orgs/${orgId}`)!.value)).not.toHaveProperty('webhook_secret');
    expect(await policyItem(orgId)).toEqual(expect.not.objectContaining({ webhook: true }));
  });

  it('is what the webhook delivery reads in AWS: <prefix><org>/webhook, with the function’s own credentials', async () => {
    const orgId = 'org_policy_read';
    await setOrgSettings(secrets, { orgId, stage: STAGE, apiKey: KEY });
    const { generatedWebhookSecret } = await setOrgPolicy({ secrets, dynamo: dynamoClient }, { orgId, stage: STAGE, webhookUrl: HOOK });
    const saved = { ...process.env };
    Object.assign(process.env, { ORG_SECRET_PREFIX: `ai-chat/${STAGE}/orgs/`, AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' });
    try {
      const { webhookSettings } = await import('../../shared/events/webhook-settings.js');
      expect(await webhookSettings(orgId)).toEqual({ url: HOOK, secret: generatedWebhookSecret });
      expect(await webhookSettings('org_without_webhook')).toBeUndefined();
    } finally {
      process.env = saved;
    }
  });

  it('refuses a webhook that would not be called, a malformed secret, a budget that is not a whole number, and an organization without settings', async () => {
    const orgId = 'org_policy_b';
    await setOrgSettings(secrets, { orgId, stage: STAGE, apiKey: KEY });
    const clients = { secrets, dynamo: dynamoClient };
    for (const webhookUrl of ['http://hooks.example.com/x', 'https://10.0.0.1/x', 'https://169.254.169.254/latest', 'not a url']) {
      expect(await thrown(setOrgPolicy(clients, { orgId, stage: STAGE, webhookUrl }))).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(/webhook URL/) });
    }
    expect(await thrown(setOrgPolicy(clients, { orgId, stage: STAGE, webhookUrl: HOOK, webhookSecret: 'secret' }))).toMatchObject({ kind: 'invalid_input' });
    expect(() => parseLimit('1.5', 'The budget')).toThrow(/whole number/);
    expect(() => parseLimit('-3', 'The budget')).toThrow(/whole number/);
    expect(parseLimit('', 'The budget')).toBeNull();
    expect(await thrown(setOrgPolicy(clients, { orgId: 'org_nobody', stage: STAGE, retentionDays: 7 }))).toMatchObject({ kind: 'not_found' });
  });

  it('as a command: prints a new signing secret once, and show masks it', async () => {
    await setOrgSettings(secrets, { orgId: 'org_policy_cli', stage: STAGE, apiKey: KEY });
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url, AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' };
    for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'NODE_OPTIONS']) delete env[name];
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), ['bin/org/cli.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    const set = await run(['set', 'org_policy_cli', '--stage', STAGE, '--webhook-url', HOOK, '--monthly-token-budget', '5000']);
    expect(set).toMatchObject({ code: 0, stderr: '' });
    const secret = /\n {2}(whsec_\S+)\n/.exec(set.stdout)?.[1];
    expect(secret).toEqual(JSON.parse(stub.get(`ai-chat/${STAGE}/orgs/org_policy_cli/webhook`)!.value).secret);
    expect(set.stdout).toMatch(/budget\s+5,000 tokens a month/);
    const shown = await run(['show', 'org_policy_cli', '--stage', STAGE]);
    expect(shown.stdout).toMatch(new RegExp(`signing\\s+whsec_…${secret!.slice(-4).replace(/[+/]/g, '\\$&')}`));
    expect(shown.stdout).not.toContain(secret);
    expect(await policyItem('org_policy_cli')).toMatchObject({ monthly_token_budget: 5000, webhook: true });
  }, 30_000);
});
