import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { isMissingSecret } from './missing-secret.js';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { env } from './env.js';
import { traced } from './tracing.js';

/** What an organization brings: its own key, and optionally an OpenAI-compatible base URL and a default model. */
export interface OrgSettings {
  apiKey: string;
  baseUrl?: string;
  model?: string;
}

/** Thrown when an organization's settings exist but cannot be used; the message says what to fix. */
export class OrgSettingsInvalid extends Error {}

/**
 * An organization's settings, or undefined when it has none. `fresh` skips any cache (used once
 * when the model provider refuses a key, so that a rotated key is picked up).
 */
export type OrgSettingsSource = (orgId: string, options?: { fresh?: boolean }) => Promise<OrgSettings | undefined>;

/**
 * Locally: the integration guide's variables `{ORG_ID}_OPENAI_API_KEY`, `{ORG_ID}_OPENAI_BASE_URL`,
 * `{ORG_ID}_OPENAI_MODEL`. An org without its own key is answered by the mock model when
 * `npm start -- --mock-model` runs one (`LOCAL_MOCK_MODEL_URL`), else falls back, as a set, to
 * `OPENAI_API_KEY`, `OPENAI_BASE_URL` and `OPENAI_MODEL` (single-org use); the sets are never mixed.
 */
export const settingsFromEnvironment: OrgSettingsSource = async (orgId) => {
  const own = env.named(`${orgId}_OPENAI_API_KEY`);
  const mock = env.mockModelUrl();
  if (!own && mock) return { apiKey: 'mock', baseUrl: mock, model: 'mock' };
  const prefix = own ? `${orgId}_` : '';
  const apiKey = own ?? env.named('OPENAI_API_KEY');
  if (!apiKey) return undefined;
  return { apiKey, baseUrl: env.named(`${prefix}OPENAI_BASE_URL`), model: env.named(`${prefix}OPENAI_MODEL`) };
};

let secrets: SecretsProvider | undefined;
let sts: STSClient | undefined;
/** One provider (its own client, credentials and cache) per organization, when reading through the tenant role. */
const tenantProviders = new Map<string, SecretsProvider>();
/** Organizations whose providers are kept: a worker serves a bounded number at once. */
const MAX_TENANT_PROVIDERS = 200;

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/**
 * Credentials of the tenant role for one organization: a session tagged `org=<orgId>`, which the
 * role's policy lets read only secrets tagged with the same org. The SDK keeps them and calls this
 * again five minutes before they expire (an hour).
 */
function tenantCredentials(roleArn: string, orgId: string): () => Promise<Credentials> {
  return async () => {
    sts ??= traced(new STSClient({}));
    const { Credentials } = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: orgId.slice(0, 64),
        Tags: [{ Key: 'org', Value: orgId }],
        DurationSeconds: 3600,
      }),
    );
    if (!Credentials?.AccessKeyId || !Credentials.SecretAccessKey) throw new Error('STS answered AssumeRole without credentials');
    return {
      accessKeyId: Credentials.AccessKeyId,
      secretAccessKey: Credentials.SecretAccessKey,
      sessionToken: Credentials.SessionToken,
      expiration: Credentials.Expiration,
    };
  };
}

/**
 * The secrets provider an organization's secret is read with: with a tenant role (the deployed
 * stack), one of its own whose client holds that organization's tagged session, so that a bug or a
 * compromised dependency asking for another organization's secret is refused by IAM; without one
 * (a local stack pointed at a Secrets Manager), the function's own credentials.
 */
function providerFor(orgId: string): SecretsProvider {
  const roleArn = env.tenantSecretsRoleArn();
  if (!roleArn) {
    secrets ??= new SecretsProvider({ awsSdkV3Client: traced(new SecretsManagerClient({})) });
    return secrets;
  }
  let provider = tenantProviders.get(orgId);
  if (!provider) {
    if (tenantProviders.size >= MAX_TENANT_PROVIDERS) tenantProviders.delete(tenantProviders.keys().next().value!);
    const client = new SecretsManagerClient({ credentials: tenantCredentials(roleArn, orgId) });
    provider = new SecretsProvider({ awsSdkV3Client: traced(client) });
    tenantProviders.set(orgId, provider);
  }
  return provider;
}

/**
 * In AWS: one Secrets Manager secret per organization, `<ORG_SECRET_PREFIX><orgId>`, holding
 * `{"api_key": "...", "base_url"?: "...", "model"?: "..."}` and tagged `org=<orgId>`, read through
 * the tenant role with that organization's tag and cached for a few minutes.
 */
export const settingsFromSecretsManager: OrgSettingsSource = async (orgId, options = {}) => {
  let value: unknown;
  try {
    value = await providerFor(orgId).get(`${env.orgSecretPrefix()}${orgId}`, {
      transform: 'json',
      maxAge: env.orgSecretMaxAgeSeconds(),
      forceFetch: options.fresh,
    });
  } catch (error) {
    if (isMissingSecret(error)) return undefined;
    if ((error as Error).name === 'TransformParameterError') {
      throw new OrgSettingsInvalid(`The settings secret of organization ${orgId} is not valid JSON.`);
    }
    throw error;
  }
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OrgSettingsInvalid(`The settings secret of organization ${orgId} has no api_key.`);
  }
  const { apiKey, baseUrl, model } = settingsFields(value as Record<string, unknown>);
  if (!apiKey) throw new OrgSettingsInvalid(`The settings secret of organization ${orgId} has no api_key.`);
  return { apiKey, baseUrl, model };
};

/**
 * The fields of a settings secret's JSON object, `{"api_key", "base_url"?, "model"?}`: each kept only
 * when a non-empty string; `other` holds any further fields (the operator command keeps them).
 */
export function settingsFields(value: Record<string, unknown>): Partial<OrgSettings> & { other: Record<string, unknown> } {
  const { api_key, base_url, model, ...other } = value;
  const text = (field: unknown) => (typeof field === 'string' && field ? field : undefined);
  return { apiKey: text(api_key), baseUrl: text(base_url), model: text(model), other };
}

/** Secrets Manager when `ORG_SECRET_PREFIX` is set (the deployed stack), else the environment. */
export const orgSettings: OrgSettingsSource = (orgId, options) =>
  env.orgSecretPrefix() ? settingsFromSecretsManager(orgId, options) : settingsFromEnvironment(orgId, options);
