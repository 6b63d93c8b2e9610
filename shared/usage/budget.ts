import { orgPolicy, type OrgPolicy } from '../org-policy/policy.js';
import { AppError } from '../platform/errors.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { defaultDb, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { queryAll } from '../store/paging.js';

/** `YYYY-MM-DD` of a moment, in UTC. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/**
 * An organization's monthly token budget, checked where new work is accepted (asks and tasks).
 * @example await monthlyBudget({ usage, policy }).check(principal.orgId);
 */
export function monthlyBudget({ tokensThisMonth, policy = orgPolicy }: { tokensThisMonth: (orgId: string, firstDay: string, today: string) => Promise<number>; policy?: (orgId: string) => Promise<OrgPolicy> }) {
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
      const used = await tokensThisMonth(orgId, `${today.slice(0, 8)}01`, today);
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

/**
 * The tokens of an organization's days from `from` to `to`: one query of its day items (at most 31),
 * their totals only (the usage repository reads the rest; this stays small in the API's bundles).
 */
export async function tokensOfDays(db: Db, orgId: string, from: string, to: string): Promise<number> {
  const days = await queryAll(db, {
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ProjectionExpression: 'total_tokens',
    ExpressionAttributeValues: { ':pk': keys.usagePartition(orgId), ':from': `DAY#${from}`, ':to': `DAY#${to}` },
  });
  return days.reduce((used, day) => used + Number(day.total_tokens ?? 0), 0);
}

let budget: ReturnType<typeof monthlyBudget> | undefined;
/** Checks the budget of the organization on the stage's table (see {@link monthlyBudget}). */
export function checkMonthlyBudget(orgId: string): Promise<void> {
  budget ??= monthlyBudget({ tokensThisMonth: (org, from, to) => tokensOfDays(defaultDb(), org, from, to) });
  return budget.check(orgId);
}
