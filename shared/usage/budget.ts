import { orgPolicy, type OrgPolicy } from '../org-policy/policy.js';
import { AppError } from '../platform/errors.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { defaultDb } from '../store/client.js';
import { dynamoUsageRepository, type UsageRepository } from './repository.js';

/** `YYYY-MM-DD` of a moment, in UTC. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * An organization's monthly token budget, checked where new work is accepted (asks and tasks).
 * @example await monthlyBudget({ usage, policy }).check(principal.orgId);
 */
export function monthlyBudget({ usage, policy = orgPolicy }: { usage: Pick<UsageRepository, 'days'>; policy?: (orgId: string) => Promise<OrgPolicy> }) {
  return {
    /**
     * Refuses new work with 429 `budget_exhausted` once the organization's tokens this UTC month have
     * reached its budget, until the month ends. No budget: no read at all; one: one query of the
     * month's day items (at most 31).
     */
    async check(orgId: string, nowMs = Date.now()): Promise<void> {
      const { monthly_token_budget: budget } = await policy(orgId);
      if (!budget) return;
      const today = utcDay(nowMs);
      const days = await usage.days(orgId, `${today.slice(0, 8)}01`, today);
      const used = days.reduce((sum, day) => sum + day.total_tokens, 0);
      if (used < budget) return;
      const now = new Date(nowMs);
      const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
      const retryAfterSeconds = Math.max(1, Math.ceil((nextMonth - nowMs) / 1000));
      addMetric('BudgetExhausted', MetricUnit.Count, 1);
      logger.info('monthly token budget reached', { budget, used });
      throw new AppError(
        'rate_limited',
        'budget_exhausted',
        `Your organization has used its monthly budget of ${budget.toLocaleString('en-US')} tokens (${used.toLocaleString('en-US')} used this month). New asks and tasks are accepted again from ${new Date(nextMonth).toISOString().slice(0, 10)} (UTC), or when an operator raises the budget.`,
        { retryAfterSeconds },
      );
    },
  };
}

let budget: ReturnType<typeof monthlyBudget> | undefined;
/** Checks the budget of the organization on the stage's table (see {@link monthlyBudget}). */
export function checkMonthlyBudget(orgId: string): Promise<void> {
  budget ??= monthlyBudget({ usage: dynamoUsageRepository(defaultDb()) });
  return budget.check(orgId);
}
