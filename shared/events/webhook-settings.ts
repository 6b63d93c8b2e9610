import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { env } from '../platform/env.js';
import { isMissingSecret } from '../platform/missing-secret.js';
import { traced } from '../platform/tracing.js';

/** Where an organization's events go, and the secret they are signed with (`whsec_...`). */
export interface WebhookSettings {
  url: string;
  secret: string;
}

/** The name of an organization's webhook secret in AWS: its settings secret's name and `/webhook`. */
export const webhookSecretName = (prefix: string, orgId: string): string => `${prefix}${orgId}/webhook`;

let secrets: SecretsProvider | undefined;

/**
 * An organization's webhook, or undefined when it has none. Locally `{ORG_ID}_WEBHOOK_URL` and
 * `{ORG_ID}_WEBHOOK_SECRET`; in AWS the secret `<ORG_SECRET_PREFIX><orgId>/webhook`
 * (`{"url", "secret"}`), which `npm run org -- set --webhook-url` writes beside the organization's
 * settings and which only the delivery function may read (it may not read the model keys), cached
 * for a few minutes.
 */
export async function webhookSettings(orgId: string): Promise<WebhookSettings | undefined> {
  const prefix = env.orgSecretPrefix();
  if (!prefix) {
    const url = env.named(`${orgId}_WEBHOOK_URL`);
    const secret = env.named(`${orgId}_WEBHOOK_SECRET`);
    return url && secret ? { url, secret } : undefined;
  }
  secrets ??= new SecretsProvider({ awsSdkV3Client: traced(new SecretsManagerClient({})) });
  let value: unknown;
  try {
    value = await secrets.get(webhookSecretName(prefix, orgId), { transform: 'json', maxAge: env.orgSecretMaxAgeSeconds() });
  } catch (error) {
    if (isMissingSecret(error)) return undefined;
    throw error;
  }
  const { url, secret } = (value ?? {}) as { url?: unknown; secret?: unknown };
  return typeof url === 'string' && typeof secret === 'string' && url && secret ? { url, secret } : undefined;
}
