import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';

/**
 * What an organization's operator decided beyond its model key: a monthly token budget, a retention
 * period, and whether it has a webhook. The organization's settings (its secret in AWS, variables
 * locally) are where an operator sets them; this item is their copy in the table, written with them
 * (`npm run org -- set`, and the local stack from its variables at start), so that the API's
 * functions, which never read a secret, can apply them.
 */
export interface OrgPolicy {
  /** Tokens the organization may use per UTC calendar month; none: no budget. */
  monthly_token_budget?: number;
  /** Days a message or task is kept after it was created, a session after its last activity; none: kept. */
  retention_days?: number;
  /** It has a webhook: finished answers and tasks are sent to it (events/). */
  webhook?: boolean;
}

export interface OrgPolicyRepository {
  get(orgId: string): Promise<OrgPolicy>;
  put(orgId: string, policy: OrgPolicy): Promise<void>;
}

/** The policy item, one per organization, on the single table. */
export function dynamoOrgPolicyRepository(db: Db): OrgPolicyRepository {
  return {
    async get(orgId) {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.orgPolicy(orgId) }));
      return Item ? policyFields(Item) : {};
    },
    async put(orgId, policy) {
      await db.doc.send(
        new PutCommand({
          TableName: db.table,
          Item: { ...keys.orgPolicy(orgId), entity: 'org_policy', ...policyFields(policy as Record<string, unknown>), updated_at: new Date().toISOString() },
        }),
      );
    },
  };
}

/** The policy's fields of a stored item or a settings object, each kept only when valid. */
export function policyFields(value: Record<string, unknown>): OrgPolicy {
  const positive = (field: unknown) => (typeof field === 'number' && Number.isInteger(field) && field > 0 ? field : undefined);
  const policy: OrgPolicy = {};
  const budget = positive(value.monthly_token_budget);
  const retention = positive(value.retention_days);
  if (budget !== undefined) policy.monthly_token_budget = budget;
  if (retention !== undefined) policy.retention_days = retention;
  if (value.webhook === true) policy.webhook = true;
  return policy;
}
