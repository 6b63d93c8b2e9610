/**
 * The operator's part of `npm run org -- set` beyond the model key: an organization's webhook, its
 * monthly token budget and its retention. They are kept where the contract says (the fields
 * `webhook_url`, `webhook_secret`, `monthly_token_budget`, `retention_days` of the organization's
 * settings secret), and copied where each reader may read them: the webhook to its own secret
 * `<settings secret>/webhook` (the delivery function may read those and no model key), and the
 * budget, retention and whether there is a webhook to the organization's policy item in the stage's
 * table (the API's functions read no secret). No result or error holds the webhook secret, except
 * the one this command generates, returned once to be printed.
 */
import { CreateSecretCommand, DeleteSecretCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ListTablesCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { WEBHOOK_SECRET_PATTERN } from '../../shared/events/signing.js';
import { webhookUrlProblem } from '../../shared/events/url-guard.js';
import { webhookSecretName } from '../../shared/events/webhook-settings.js';
import { orgSecretPrefix } from '../../shared/contract/rules.js';
import { policyFields, type OrgPolicy } from '../../shared/org-policy/repository.js';
import { keys } from '../../shared/store/keys.js';
import { awsFailure, checkTarget, describe, errorName, invalid, maskKey, OrgAdminError, readValue, secretNameFor, type OrgTarget } from './secrets.js';

export interface PolicyInput extends OrgTarget {
  /** An https URL; '' removes the webhook; undefined keeps it. */
  webhookUrl?: string;
  /** `whsec_` and base64; undefined keeps the stored one (or makes one for a new webhook). */
  webhookSecret?: string;
  /** Tokens per UTC month; null removes the budget; undefined keeps it. */
  monthlyTokenBudget?: number | null;
  /** Days; null removes the retention; undefined keeps it. */
  retentionDays?: number | null;
  /** The stage's table; found by its name (`ai-chat-<stage>-...`) when not given. */
  table?: string;
}

export interface PolicyResult extends OrgTarget {
  webhookUrl?: string;
  /** The webhook secret, masked. */
  webhookSecretMasked?: string;
  /** A webhook secret made by this command: print it once, it is not shown again. */
  generatedWebhookSecret?: string;
  monthlyTokenBudget?: number;
  retentionDays?: number;
  table: string;
}

/** A whole number from 1 up, or '' / 'none' to remove; what the command line gives. */
export function parseLimit(value: string, what: string): number | null {
  if (value === '' || value === 'none') return null;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw invalid(`${what} must be a whole number from 1 (or '' to remove it).`);
  return Number(value);
}

export function checkWebhookUrl(value: string): void {
  const problem = webhookUrlProblem(value, false);
  if (problem) throw invalid(`The webhook URL cannot be called: ${problem}. Give an https URL on the public internet, e.g. https://hooks.example.com/ai-chat.`);
}

export function checkWebhookSecret(value: string): void {
  if (!WEBHOOK_SECRET_PATTERN.test(value)) throw invalid('The webhook secret must be "whsec_" followed by the base64 of at least 18 bytes (as Standard Webhooks secrets are).');
}

/** A new webhook secret: 24 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** The stage's table: the one whose name starts with `ai-chat-<stage>-` (CloudFormation names it after the stack). */
export async function findTable(dynamo: DynamoDBClient, stage: string): Promise<string> {
  const prefix = `ai-chat-${stage}-`;
  const found: string[] = [];
  let start: string | undefined;
  try {
    do {
      const page = await dynamo.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      found.push(...(page.TableNames ?? []).filter((name) => name.startsWith(prefix)));
      start = page.LastEvaluatedTableName;
    } while (start);
  } catch (error) {
    throw new OrgAdminError('aws', `DynamoDB ListTables failed: ${errorName(error)}: ${(error as Error).message} (or give the table with --table)`);
  }
  if (found.length !== 1) {
    throw new OrgAdminError('not_found', `Found ${found.length ? found.join(', ') : 'no table'} named ${prefix}...: give the stage's table with --table (the stack's TableName output).`);
  }
  return found[0]!;
}

/**
 * Sets an organization's webhook, budget and retention (what is not given is kept), in its settings
 * secret, its webhook secret and its policy item. The organization must have settings already
 * (`set --key-stdin` first).
 */
export async function setOrgPolicy(clients: { secrets: SecretsManagerClient; dynamo: DynamoDBClient }, input: PolicyInput): Promise<PolicyResult> {
  checkTarget(input);
  if (input.webhookUrl) checkWebhookUrl(input.webhookUrl);
  if (input.webhookSecret !== undefined) checkWebhookSecret(input.webhookSecret);
  const name = secretNameFor(input);
  const described = await describe(clients.secrets, name);
  if (!described || described.DeletedDate) {
    throw new OrgAdminError('not_found', `Organization ${input.orgId} has no settings secret on stage ${input.stage}: set its key first (--key-stdin).`);
  }
  let current: Record<string, unknown>;
  try {
    current = JSON.parse((await readValue(clients.secrets, name)) ?? '');
  } catch {
    throw invalid(`The settings secret of organization ${input.orgId} is not JSON: set its key again first.`);
  }
  const next: Record<string, unknown> = { ...current };
  const assign = (field: string, value: unknown) => (value === null || value === '' ? delete next[field] : (next[field] = value));
  if (input.webhookUrl !== undefined) assign('webhook_url', input.webhookUrl);
  if (input.monthlyTokenBudget !== undefined) assign('monthly_token_budget', input.monthlyTokenBudget);
  if (input.retentionDays !== undefined) assign('retention_days', input.retentionDays);
  let generated: string | undefined;
  if (!next.webhook_url) {
    delete next.webhook_secret;
  } else if (input.webhookSecret) {
    next.webhook_secret = input.webhookSecret;
  } else if (typeof next.webhook_secret !== 'string' || !WEBHOOK_SECRET_PATTERN.test(next.webhook_secret)) {
    next.webhook_secret = generated = newWebhookSecret();
  }
  const secrets = [input.webhookSecret, next.webhook_secret as string | undefined, current.webhook_secret as string | undefined, current.api_key as string | undefined];
  try {
    await clients.secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify(next) }));
  } catch (error) {
    throw awsFailure('PutSecretValue', name, error, secrets);
  }
  await writeWebhookSecret(clients.secrets, input, next.webhook_url ? { url: String(next.webhook_url), secret: String(next.webhook_secret) } : undefined, secrets);
  const table = input.table ?? (await findTable(clients.dynamo, input.stage));
  const policy = policyFields({ ...next, webhook: Boolean(next.webhook_url) });
  await writePolicy(clients.dynamo, table, input.orgId, policy);
  return {
    orgId: input.orgId,
    stage: input.stage,
    table,
    ...(next.webhook_url ? { webhookUrl: String(next.webhook_url), webhookSecretMasked: maskWebhookSecret(String(next.webhook_secret)) } : {}),
    ...(generated ? { generatedWebhookSecret: generated } : {}),
    ...(policy.monthly_token_budget ? { monthlyTokenBudget: policy.monthly_token_budget } : {}),
    ...(policy.retention_days ? { retentionDays: policy.retention_days } : {}),
  };
}

/** `whsec_…abcd`: a webhook secret as it may be shown. */
export const maskWebhookSecret = (secret: string): string => (secret.startsWith('whsec_') ? `whsec_…${secret.slice(-4)}` : maskKey(secret));

/** The delivery's copy of the webhook, `<settings secret>/webhook` (tagged like the settings secret), or its removal. */
async function writeWebhookSecret(client: SecretsManagerClient, target: OrgTarget, webhook: { url: string; secret: string } | undefined, secrets: (string | undefined)[]): Promise<void> {
  const name = webhookSecretName(orgSecretPrefix(target.stage), target.orgId);
  const existing = await describe(client, name);
  try {
    if (!webhook) {
      if (existing) await client.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
      return;
    }
    const value = JSON.stringify(webhook);
    if (existing) {
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    } else {
      await client.send(
        new CreateSecretCommand({
          Name: name,
          Description: `Webhook (url, signing secret) of organization ${target.orgId} on stage ${target.stage} of ai-chat: read by the webhook delivery only.`,
          SecretString: value,
          Tags: [
            { Key: 'app', Value: 'ai-chat' },
            { Key: 'stage', Value: target.stage },
            { Key: 'org', Value: target.orgId },
          ],
        }),
      );
    }
  } catch (error) {
    throw awsFailure(webhook ? 'writing' : 'DeleteSecret', name, error, secrets);
  }
}

async function writePolicy(dynamo: DynamoDBClient, table: string, orgId: string, policy: OrgPolicy): Promise<void> {
  try {
    await DynamoDBDocumentClient.from(dynamo).send(
      new PutCommand({ TableName: table, Item: { ...keys.orgPolicy(orgId), entity: 'org_policy', ...policy, updated_at: new Date().toISOString() } }),
    );
  } catch (error) {
    throw new OrgAdminError('aws', `DynamoDB PutItem of the policy of ${orgId} in ${table} failed: ${errorName(error)}: ${(error as Error).message}`);
  }
}

/** Removes an organization's webhook secret and policy item (with its settings secret, by `remove`). */
export async function removeOrgPolicy(clients: { secrets: SecretsManagerClient; dynamo: DynamoDBClient }, target: OrgTarget & { table?: string }): Promise<void> {
  await writeWebhookSecret(clients.secrets, target, undefined, []);
  const table = target.table ?? (await findTable(clients.dynamo, target.stage));
  try {
    await DynamoDBDocumentClient.from(clients.dynamo).send(new DeleteCommand({ TableName: table, Key: keys.orgPolicy(target.orgId) }));
  } catch (error) {
    throw new OrgAdminError('aws', `DynamoDB DeleteItem of the policy of ${target.orgId} failed: ${errorName(error)}`);
  }
}
