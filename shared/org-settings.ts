import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from './observability.js';
import { config } from './config.js';

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
  const env = process.env;
  const own = env[`${orgId}_OPENAI_API_KEY`];
  const prefix = own ? `${orgId}_` : '';
  const apiKey = own || env.OPENAI_API_KEY;
  if (!apiKey) return undefined;
  return {
    apiKey,
    baseUrl: env[`${prefix}OPENAI_BASE_URL`] || undefined,
    model: env[`${prefix}OPENAI_MODEL`] || undefined,
  };
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
    value = await secrets.get(`${config.orgSecretPrefix()}${orgId}`, {
      transform: 'json',
      maxAge: config.orgSecretMaxAgeSeconds(),
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
  const parsed = value as { api_key?: unknown; base_url?: unknown; model?: unknown };
  if (typeof parsed.api_key !== 'string' || !parsed.api_key) {
    throw new OrgSettingsInvalid(`The settings secret of organization ${orgId} has no api_key.`);
  }
  return {
    apiKey: parsed.api_key,
    baseUrl: typeof parsed.base_url === 'string' && parsed.base_url ? parsed.base_url : undefined,
    model: typeof parsed.model === 'string' && parsed.model ? parsed.model : undefined,
  };
};

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
  config.orgSecretPrefix() ? settingsFromSecretsManager(orgId, options) : settingsFromEnvironment(orgId, options);
