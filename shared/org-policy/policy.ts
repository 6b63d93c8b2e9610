import { defaultDb } from '../store/client.js';
import { dynamoOrgPolicyRepository, type OrgPolicy, type OrgPolicyRepository } from './repository.js';

export type { OrgPolicy } from './repository.js';

/** How long a warm function trusts the policy it read: a change applies within this. */
export const POLICY_CACHE_MS = 30_000;
const MAX_CACHED = 1000;

const cache = new Map<string, { policy: OrgPolicy; until: number }>();
let repository: OrgPolicyRepository | undefined;

/**
 * An organization's policy, read from the table at most every 30 seconds per warm function (its
 * budget, retention and webhook change rarely; the writes and events of every request need them).
 * @example const { retention_days } = await orgPolicy(principal.orgId);
 */
export async function orgPolicy(orgId: string, nowMs = Date.now()): Promise<OrgPolicy> {
  const cached = cache.get(orgId);
  if (cached && cached.until > nowMs) return cached.policy;
  repository ??= dynamoOrgPolicyRepository(defaultDb());
  const policy = await repository.get(orgId);
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(orgId, { policy, until: nowMs + POLICY_CACHE_MS });
  return policy;
}

/** Forgets what was read (tests, and the local stack when it writes policies). */
export function forgetOrgPolicies(): void {
  cache.clear();
  repository = undefined;
}

/** Epoch seconds when an item written at `atMs` expires under `policy`, or undefined when it is kept. */
export function retentionExpiry(policy: OrgPolicy, atMs: number): number | undefined {
  return policy.retention_days ? Math.floor(atMs / 1000) + policy.retention_days * 86_400 : undefined;
}
