import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { env } from './env.js';
import { tracer } from './observability.js';

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
 * `{ORG_ID}_OPENAI_MODEL`. An org without its own key falls back, as a set, to `OPENAI_API_KEY`,
 * `OPENAI_BASE_URL` and `OPENAI_MODEL` (single-org use); the two sets are never mixed.
 */
export const settingsFromEnvironment: OrgSettingsSource = async (orgId) => {
  const own = env.named(`${orgId}_OPENAI_API_KEY`);
  const prefix = own ? `${orgId}_` : '';
  const apiKey = own ?? env.named('OPENAI_API_KEY');
  if (!apiKey) return undefined;
  return { apiKey, baseUrl: env.named(`${prefix}OPENAI_BASE_URL`), model: env.named(`${prefix}OPENAI_MODEL`) };
};

let secrets: SecretsProvider | undefined;

/**
 * In AWS: one Secrets Manager secret per organization, `<ORG_SECRET_PREFIX><orgId>`, holding
 * `{"api_key": "...", "base_url"?: "...", "model"?: "..."}`, cached for a few minutes.
 */
export const settingsFromSecretsManager: OrgSettingsSource = async (orgId, options = {}) => {
  secrets ??= new SecretsProvider({ awsSdkV3Client: tracer.captureAWSv3Client(new SecretsManagerClient({})) });
  let value: unknown;
  try {
    value = await secrets.get(`${env.orgSecretPrefix()}${orgId}`, {
      transform: 'json',
      maxAge: env.orgSecretMaxAgeSeconds(),
      forceFetch: options.fresh,
    });
  } catch (error) {
    if (isNotFound(error)) return undefined;
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

/**
 * Powertools wraps the SDK's error; the cause is on it or on its cause. A secret scheduled for
 * deletion (`npm run org -- remove`) is answered InvalidRequestException: it is gone too.
 */
function isNotFound(error: unknown): boolean {
  for (let current = error as { name?: string; message?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.name === 'ResourceNotFoundException') return true;
    if (current.name === 'InvalidRequestException' && /deleted|deletion/i.test(current.message ?? '')) return true;
  }
  return false;
}

/** Secrets Manager when `ORG_SECRET_PREFIX` is set (the deployed stack), else the environment. */
export const orgSettings: OrgSettingsSource = (orgId, options) =>
  env.orgSecretPrefix() ? settingsFromSecretsManager(orgId, options) : settingsFromEnvironment(orgId, options);
