/**
 * What the operator command `npm run org` does (bin/org/cli.ts is only its command line): set, show
 * and remove an organization's settings secret `ai-chat/<stage>/orgs/<orgId>`, JSON
 * `{"api_key": "...", "base_url"?: "...", "model"?: "..."}`, the one the workers read
 * (shared/platform/org-settings.ts). Each function takes a SecretsManagerClient and explicit inputs and
 * returns a result; failures are OrgAdminError. No result and no error message ever holds the key:
 * only `maskKey` of it.
 */
import {
  CreateSecretCommand,
  TagResourceCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  RestoreSecretCommand,
  type DescribeSecretCommandOutput,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { ORG_ID_PATTERN } from '../../shared/auth/principal.js';
import { MODEL_MAX_LENGTH, MODEL_PATTERN, orgSecretName, STAGE_PATTERN } from '../../shared/contract/rules.js';
import { settingsFields } from '../../shared/platform/org-settings.js';
/** A key is one token: printable ASCII, no spaces. Longer than any provider's key, far below the 64 KB secret limit. */
const KEY_PATTERN = /^[\x21-\x7e]+$/;
const KEY_MAX_LENGTH = 4096;
export const DEFAULT_RECOVERY_WINDOW_DAYS = 7;

/** `invalid_input`: the command must change (exit 2). `not_found` and `aws`: Secrets Manager said no or failed (exit 1). */
export type OrgAdminErrorKind = 'invalid_input' | 'not_found' | 'aws';

export class OrgAdminError extends Error {
  override name = 'OrgAdminError';
  constructor(
    readonly kind: OrgAdminErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new OrgAdminError('invalid_input', message);

/** Which org, on which stage. */
export interface OrgTarget {
  orgId: string;
  stage: string;
}

/** The secret's name for an org on a stage: `ai-chat/<stage>/orgs/<orgId>`. */
export function secretNameFor({ orgId, stage }: OrgTarget): string {
  return orgSecretName(stage, orgId);
}

/** A key as it may be shown: at most its first 3 and last 4 characters (`sk-…abcd`), `****` when shorter than 12. */
export function maskKey(key: string): string {
  return key.length < 12 ? '****' : `${key.slice(0, 3)}…${key.slice(-4)}`;
}

export function checkTarget(target: OrgTarget): void {
  if (typeof target.orgId !== 'string' || !ORG_ID_PATTERN.test(target.orgId)) {
    // The value itself is not repeated: whatever was typed there might be a key.
    throw invalid(
      'The organization id is not valid: it must be "org_" followed by letters and digits, with single underscores between groups (e.g. org_2abcXYZ or org_medical_clinic).',
    );
  }
  if (typeof target.stage !== 'string' || !STAGE_PATTERN.test(target.stage)) {
    throw invalid('The stage name is not valid: it must start with a lower-case letter, then lower-case letters, digits and dashes, 1-20 long (e.g. prod).');
  }
}

/** An http(s) base URL, refused with a sentence otherwise. Credentials in it are refused: `show` prints it. */
export function checkBaseUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('The base URL is not valid: give an http or https URL, e.g. https://llm.example.com/v1 (or an empty value to remove it).');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalid(`The base URL must be an http or https URL, not ${url.protocol.replace(/:$/, '')}.`);
  }
  if (url.username || url.password) throw invalid('The base URL must not hold a user name or password.');
}

export function checkModel(value: string): void {
  if (value.length > MODEL_MAX_LENGTH || !MODEL_PATTERN.test(value)) {
    throw invalid('The model name is not valid: 1-100 letters, digits and . _ : / @ - (e.g. gpt-4o-mini), or an empty value to remove it.');
  }
}

export function checkKey(value: string): void {
  if (value.length === 0) throw invalid('The key is empty: give the organization key on standard input.');
  if (value.length > KEY_MAX_LENGTH) throw invalid(`The key is longer than ${KEY_MAX_LENGTH} characters: is it really a key?`);
  if (!KEY_PATTERN.test(value)) throw invalid('The key must be one line of printable characters without spaces.');
}

/** The stored settings, read as the workers read them; `other` keeps any further fields untouched. */
type StoredSettings = ReturnType<typeof settingsFields>;

/** Reads a secret string without ever letting it into a message: undefined when it is not a JSON object. */
function parseSettings(secretString: string | undefined): StoredSettings | undefined {
  let value: unknown;
  try {
    value = JSON.parse(secretString ?? '');
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  return settingsFields(value as Record<string, unknown>);
}

function serialize(settings: StoredSettings & { apiKey: string }): string {
  return JSON.stringify({
    ...settings.other,
    api_key: settings.apiKey,
    ...(settings.baseUrl ? { base_url: settings.baseUrl } : {}),
    ...(settings.model ? { model: settings.model } : {}),
  });
}

/** Replaces every occurrence of the given secrets in a text (an AWS message, say) by their mask. */
function redact(text: string, secrets: (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) if (secret) result = result.split(secret).join(maskKey(secret));
  return result;
}

export const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name ?? 'Error';

/** An SDK failure as an OrgAdminError naming the operation and the secret, with any key masked. */
export function awsFailure(operation: string, name: string, error: unknown, secrets: (string | undefined)[] = []): OrgAdminError {
  const kind = errorName(error);
  const detail = error instanceof Error ? error.message : String(error);
  const hint =
    kind === 'CredentialsProviderError'
      ? ' (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)'
      : /region is missing/i.test(detail)
        ? ' (set AWS_REGION)'
        : '';
  return new OrgAdminError('aws', redact(`Secrets Manager ${operation} on ${name} failed: ${kind}: ${detail}${hint}`, secrets));
}

/** DescribeSecret, or undefined when there is no such secret. */
export async function describe(client: SecretsManagerClient, name: string): Promise<DescribeSecretCommandOutput | undefined> {
  try {
    return await client.send(new DescribeSecretCommand({ SecretId: name }));
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw awsFailure('DescribeSecret', name, error);
  }
}

export async function readValue(client: SecretsManagerClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetSecretValueCommand({ SecretId: name }))).SecretString;
  } catch (error) {
    throw awsFailure('GetSecretValue', name, error);
  }
}

const notFound = (target: OrgTarget, name: string) =>
  new OrgAdminError('not_found', `Organization ${target.orgId} has no settings secret on stage ${target.stage} (no secret ${name}).`);

export interface SetInput extends OrgTarget {
  /** The new key; undefined keeps the stored one (a new organization needs one). */
  apiKey?: string;
  /** An http(s) URL; '' removes it; undefined keeps it. */
  baseUrl?: string;
  /** A model name; '' removes it; undefined keeps it. */
  model?: string;
}

export interface SetResult extends OrgTarget {
  secretName: string;
  arn?: string;
  /** created: a new secret. updated: a new value. unchanged: the value asked for was already there. */
  action: 'created' | 'updated' | 'unchanged';
  /** The secret was scheduled for deletion and has been restored first. */
  restored: boolean;
  keyChanged: boolean;
  /** The key now stored, masked. */
  keyMasked: string;
  baseUrl?: string;
  model?: string;
}

/**
 * Creates the org's secret (CreateSecret, with a description and the tags app, stage, org) or
 * changes it (PutSecretValue), keeping whatever is not given: the key, the base URL, the model and
 * any other field. A secret scheduled for deletion is restored first; one without the tag org
 * (which the workers' tenant role needs to read it) gets it.
 */
export async function setOrgSettings(client: SecretsManagerClient, input: SetInput): Promise<SetResult> {
  checkTarget(input);
  if (input.apiKey !== undefined) checkKey(input.apiKey);
  if (input.baseUrl) checkBaseUrl(input.baseUrl);
  if (input.model) checkModel(input.model);
  if (input.apiKey === undefined && input.baseUrl === undefined && input.model === undefined) {
    throw invalid('Nothing to set: give the key on standard input (--key-stdin), --base-url or --model.');
  }
  const name = secretNameFor(input);
  const secrets = [input.apiKey];
  const result = (action: SetResult['action'], stored: StoredSettings & { apiKey: string }, extra: Partial<SetResult>): SetResult => ({
    orgId: input.orgId,
    stage: input.stage,
    secretName: name,
    action,
    restored: false,
    keyChanged: false,
    keyMasked: maskKey(stored.apiKey),
    ...(stored.baseUrl ? { baseUrl: stored.baseUrl } : {}),
    ...(stored.model ? { model: stored.model } : {}),
    ...extra,
  });
  const merge = (current: StoredSettings | undefined, apiKey: string): StoredSettings & { apiKey: string } => ({
    apiKey,
    baseUrl: input.baseUrl === undefined ? current?.baseUrl : input.baseUrl || undefined,
    model: input.model === undefined ? current?.model : input.model || undefined,
    other: current?.other ?? {},
  });

  let described = await describe(client, name);
  if (!described) {
    if (input.apiKey === undefined) {
      throw invalid(
        `Organization ${input.orgId} has no settings secret on stage ${input.stage} yet: a new organization needs a key (give it on standard input with --key-stdin).`,
      );
    }
    const stored = merge(undefined, input.apiKey);
    try {
      const created = await client.send(
        new CreateSecretCommand({
          Name: name,
          Description: `OpenAI settings (api_key, base_url, model) of organization ${input.orgId} on stage ${input.stage} of ai-chat.`,
          SecretString: serialize(stored),
          Tags: [
            { Key: 'app', Value: 'ai-chat' },
            { Key: 'stage', Value: input.stage },
            { Key: 'org', Value: input.orgId },
          ],
        }),
      );
      return result('created', stored, { keyChanged: true, arn: created.ARN });
    } catch (error) {
      // Made by someone else since we looked: change it as any existing secret.
      if (errorName(error) !== 'ResourceExistsException') throw awsFailure('CreateSecret', name, error, secrets);
      described = await describe(client, name);
      if (!described) throw awsFailure('CreateSecret', name, error, secrets);
    }
  }

  let restored = false;
  if (described.DeletedDate) {
    try {
      await client.send(new RestoreSecretCommand({ SecretId: name }));
    } catch (error) {
      throw awsFailure('RestoreSecret', name, error, secrets);
    }
    restored = true;
  }

  // The workers read a secret only through the tenant role, which reads only secrets tagged with
  // their org: a secret made before the tag was set (or with another org's) gets it now.
  if (!described.Tags?.some((tag) => tag.Key === 'org' && tag.Value === input.orgId)) {
    try {
      await client.send(new TagResourceCommand({ SecretId: name, Tags: [{ Key: 'org', Value: input.orgId }] }));
    } catch (error) {
      throw awsFailure('TagResource', name, error, secrets);
    }
  }

  const current = parseSettings(await readValue(client, name));
  const apiKey = input.apiKey ?? current?.apiKey;
  if (apiKey === undefined) {
    throw invalid(
      `The settings secret of organization ${input.orgId} on stage ${input.stage} ${current ? 'has no api_key' : 'is not a JSON object'}: give a key on standard input (--key-stdin).`,
    );
  }
  const stored = merge(current, apiKey);
  const keyChanged = current?.apiKey !== apiKey;
  const unchanged =
    current !== undefined && !keyChanged && current.baseUrl === stored.baseUrl && current.model === stored.model;
  if (unchanged) return result('unchanged', stored, { restored, arn: described.ARN });
  try {
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: serialize(stored) }));
    return result('updated', stored, { restored, keyChanged, arn: put.ARN ?? described.ARN });
  } catch (error) {
    throw awsFailure('PutSecretValue', name, error, [...secrets, current?.apiKey]);
  }
}

export interface ShowResult extends OrgTarget {
  secretName: string;
  arn?: string;
  description?: string;
  /** The key, masked; absent when the secret has none (see `problem`) or is scheduled for deletion. */
  keyMasked?: string;
  baseUrl?: string;
  model?: string;
  /** The webhook and its signing secret (masked), the monthly token budget and the retention, when set. */
  webhookUrl?: string;
  webhookSecretMasked?: string;
  monthlyTokenBudget?: number;
  retentionDays?: number;
  /** Names (never values) of further fields in the secret. */
  otherFields: string[];
  /** Why the workers cannot use this secret, as a sentence. */
  problem?: string;
  createdDate?: Date;
  lastChangedDate?: Date;
  /** When the secret will be gone: it is scheduled for deletion and the workers get no key from it. */
  deletionDate?: Date;
  tags: Record<string, string>;
}

/** The org's settings with the key masked (DescribeSecret, then GetSecretValue). */
export async function showOrgSettings(client: SecretsManagerClient, target: OrgTarget): Promise<ShowResult> {
  checkTarget(target);
  const name = secretNameFor(target);
  const described = await describe(client, name);
  if (!described) throw notFound(target, name);
  const shown: ShowResult = {
    orgId: target.orgId,
    stage: target.stage,
    secretName: name,
    ...(described.ARN ? { arn: described.ARN } : {}),
    ...(described.Description ? { description: described.Description } : {}),
    otherFields: [],
    ...(described.CreatedDate ? { createdDate: described.CreatedDate } : {}),
    ...(described.LastChangedDate ? { lastChangedDate: described.LastChangedDate } : {}),
    tags: Object.fromEntries((described.Tags ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? ''])),
  };
  if (described.DeletedDate) {
    return { ...shown, deletionDate: described.DeletedDate, problem: 'The secret is scheduled for deletion: the workers get no key from it.' };
  }
  const settings = parseSettings(await readValue(client, name));
  if (!settings) return { ...shown, problem: 'The secret is not a JSON object: the workers cannot use it.' };
  const untagged = shown.tags.org !== target.orgId;
  const { webhook_url, webhook_secret, monthly_token_budget, retention_days, ...rest } = settings.other;
  return {
    ...shown,
    ...(settings.apiKey ? { keyMasked: maskKey(settings.apiKey) } : { problem: 'The secret has no api_key: the workers cannot use it.' }),
    ...(settings.apiKey && untagged
      ? { problem: `The secret is not tagged org=${target.orgId}: the workers cannot read it. Run set again for this organization to tag it.` }
      : {}),
    ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
    ...(settings.model ? { model: settings.model } : {}),
    ...(typeof webhook_url === 'string' ? { webhookUrl: webhook_url } : {}),
    ...(typeof webhook_secret === 'string' ? { webhookSecretMasked: `whsec_…${webhook_secret.slice(-4)}` } : {}),
    ...(typeof monthly_token_budget === 'number' ? { monthlyTokenBudget: monthly_token_budget } : {}),
    ...(typeof retention_days === 'number' ? { retentionDays: retention_days } : {}),
    otherFields: Object.keys(rest),
  };
}

export interface RemoveInput extends OrgTarget {
  /** Delete at once, without recovery. */
  force?: boolean;
  /** 7 to 30 days; default 7. Ignored with `force`. */
  recoveryWindowInDays?: number;
}

export interface RemoveResult extends OrgTarget {
  secretName: string;
  arn?: string;
  /** scheduled: recoverable until deletionDate. deleted: gone for good. already_scheduled: nothing done. */
  action: 'scheduled' | 'deleted' | 'already_scheduled';
  deletionDate?: Date;
  recoveryWindowInDays?: number;
}

/** Deletes the org's secret: recoverable for 7 days (DeleteSecret RecoveryWindowInDays), or at once with `force`. */
export async function removeOrgSettings(client: SecretsManagerClient, input: RemoveInput): Promise<RemoveResult> {
  checkTarget(input);
  const days = input.recoveryWindowInDays ?? DEFAULT_RECOVERY_WINDOW_DAYS;
  if (!input.force && (!Number.isInteger(days) || days < 7 || days > 30)) {
    throw invalid('The recovery window must be a whole number of days from 7 to 30.');
  }
  const name = secretNameFor(input);
  const base = { orgId: input.orgId, stage: input.stage, secretName: name };
  const described = await describe(client, name);
  if (!described) throw notFound(input, name);
  if (described.DeletedDate && !input.force) {
    return { ...base, arn: described.ARN, action: 'already_scheduled', deletionDate: described.DeletedDate };
  }
  try {
    const deleted = await client.send(
      new DeleteSecretCommand(input.force ? { SecretId: name, ForceDeleteWithoutRecovery: true } : { SecretId: name, RecoveryWindowInDays: days }),
    );
    return input.force
      ? { ...base, arn: deleted.ARN ?? described.ARN, action: 'deleted' }
      : { ...base, arn: deleted.ARN ?? described.ARN, action: 'scheduled', deletionDate: deleted.DeletionDate, recoveryWindowInDays: days };
  } catch (error) {
    throw awsFailure('DeleteSecret', name, error);
  }
}
