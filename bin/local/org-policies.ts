import { policyFields, type OrgPolicy, type OrgPolicyRepository } from '../../shared/org-policy/repository.js';
import { forgetOrgPolicies } from '../../shared/org-policy/policy.js';

/** The variables of an organization's policy, as `{ORG_ID}_<suffix>` (docs/api.md). */
const SUFFIXES = {
  _MONTHLY_TOKEN_BUDGET: 'monthly_token_budget',
  _RETENTION_DAYS: 'retention_days',
  _WEBHOOK_URL: 'webhook',
} as const;

/**
 * The organizations' policies that the environment gives (`{ORG_ID}_MONTHLY_TOKEN_BUDGET`,
 * `{ORG_ID}_RETENTION_DAYS`, `{ORG_ID}_WEBHOOK_URL`). A value that is not a whole number above 0
 * throws a sentence naming the variable.
 */
export function policiesFromEnvironment(environment: NodeJS.ProcessEnv): Map<string, OrgPolicy> {
  const fields = new Map<string, Record<string, unknown>>();
  for (const [name, value] of Object.entries(environment)) {
    if (!value || !name.startsWith('org_')) continue;
    for (const [suffix, field] of Object.entries(SUFFIXES)) {
      if (!name.endsWith(suffix)) continue;
      const orgId = name.slice(0, -suffix.length);
      const entry = fields.get(orgId) ?? fields.set(orgId, {}).get(orgId)!;
      if (field === 'webhook') {
        entry.webhook = true;
      } else {
        const number = Number(value);
        if (!Number.isInteger(number) || number < 1) throw new Error(`${name} must be a whole number above 0, not "${value}"`);
        entry[field] = number;
      }
    }
  }
  return new Map([...fields].map(([orgId, value]) => [orgId, policyFields(value)]));
}

/**
 * Writes the environment's policies to the table, as `npm run org -- set` writes them in AWS: the
 * API's functions read them there.
 * @returns the organizations written
 */
export async function seedOrgPolicies(repository: OrgPolicyRepository, environment: NodeJS.ProcessEnv): Promise<string[]> {
  const policies = policiesFromEnvironment(environment);
  for (const [orgId, policy] of policies) await repository.put(orgId, policy);
  forgetOrgPolicies();
  return [...policies.keys()];
}
