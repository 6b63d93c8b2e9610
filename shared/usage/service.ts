import { isOrgAdmin, type Principal } from '../auth/principal.js';
import { forbidden, invalid } from '../platform/errors.js';
import { defaultDb } from '../store/client.js';
import { dynamoUsageRepository, noUsage, type TokenUsage, type UsageCounts, type UsageRepository } from './repository.js';
import { MAX_USAGE_DAYS, type UsageQuery, type UsageReport } from './schema.js';
import { utcDay } from './budget.js';

const DAY_MS = 86_400_000;
const dayMs = (day: string) => Date.parse(`${day}T00:00:00Z`);

const add = (into: UsageCounts, counts: UsageCounts) => {
  into.requests += counts.requests;
  into.prompt_tokens += counts.prompt_tokens;
  into.completion_tokens += counts.completion_tokens;
  into.total_tokens += counts.total_tokens;
};

/**
 * Usage: what each organization's finished answers and tasks used, counted once each as it
 * finishes, and the report for its admins (the monthly budget is in ./budget.ts).
 */
export function usageService({ usage }: { usage: UsageRepository }) {
  return {
    /**
     * Counts one finished answer or task (completed, or stopped with what it generated): to its
     * organization's day and model, and to its user's day.
     */
    async record(entry: { orgId: string; userId: string; model: string; usage: TokenUsage; finishedAtMs: number }): Promise<void> {
      await usage.add(entry.orgId, { date: utcDay(entry.finishedAtMs), userId: entry.userId, model: entry.model, usage: entry.usage });
    },

    /** The organization's usage over UTC days, grouped by day, model or user: for its admins only. */
    async report(principal: Principal, query: UsageQuery, nowMs = Date.now()): Promise<UsageReport> {
      if (!isOrgAdmin(principal)) throw forbidden("Only the organization's admins may read its usage.", 'admin_only');
      const to = query.to ?? utcDay(nowMs);
      const from = query.from ?? `${to.slice(0, 8)}01`;
      if (from > to) throw invalid(`"from" (${from}) is after "to" (${to}).`);
      const span = (dayMs(to) - dayMs(from)) / DAY_MS + 1;
      if (span > MAX_USAGE_DAYS) throw invalid(`A report spans at most ${MAX_USAGE_DAYS} days; ${from} to ${to} is ${span}. Ask for a shorter range.`);

      const days = await usage.days(principal.orgId, from, to);
      const totals = noUsage();
      for (const day of days) add(totals, day);
      let items: UsageReport['items'];
      if (query.group_by === 'day') {
        items = days.map(({ date, requests, prompt_tokens, completion_tokens, total_tokens }) => ({ date, requests, prompt_tokens, completion_tokens, total_tokens }));
      } else if (query.group_by === 'model') {
        const byModel = new Map<string, UsageCounts>();
        for (const day of days) for (const [model, counts] of day.models) add(byModel.get(model) ?? byModel.set(model, noUsage()).get(model)!, counts);
        items = [...byModel].sort(([a], [b]) => a.localeCompare(b)).map(([model, counts]) => ({ model, ...counts }));
      } else {
        const byUser = new Map<string, UsageCounts>();
        for (const day of await usage.userDays(principal.orgId, from, to)) add(byUser.get(day.user_id) ?? byUser.set(day.user_id, noUsage()).get(day.user_id)!, day);
        items = [...byUser].sort(([a], [b]) => a.localeCompare(b)).map(([user_id, counts]) => ({ user_id, ...counts }));
      }
      return { from, to, group_by: query.group_by, items, totals };
    },

  };
}

export type UsageService = ReturnType<typeof usageService>;

let service: UsageService | undefined;
/** The usage service on the stage's table. */
export function defaultUsageService(): UsageService {
  service ??= usageService({ usage: dynamoUsageRepository(defaultDb()) });
  return service;
}
