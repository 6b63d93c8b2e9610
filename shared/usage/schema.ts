import * as z from 'zod/mini';

/** A UTC calendar day, `YYYY-MM-DD`, that exists. */
const dayParam = z.string().check(
  z.regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD'),
  z.refine((day) => !Number.isNaN(Date.parse(`${day}T00:00:00Z`)) && new Date(`${day}T00:00:00Z`).toISOString().startsWith(day), 'must be a date that exists'),
);

/** The most days one usage report may span. */
export const MAX_USAGE_DAYS = 92;

/** GET /openai/usage */
export const UsageQuery = z.object({
  from: z.optional(dayParam),
  to: z.optional(dayParam),
  group_by: z._default(z.enum(['day', 'model', 'user'], 'must be day, model or user'), 'day'),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

const counts = {
  requests: z.number(),
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
};

/** One group of a usage report: a day, a model or a user, with its counts. */
export const UsageItemSchema = z
  .object({ date: z.optional(z.string()), model: z.optional(z.string()), user_id: z.optional(z.string()), ...counts })
  .register(z.globalRegistry, { id: 'UsageItem' });

/** GET /openai/usage: the organization's finished answers and tasks over the days asked, grouped. */
export const UsageReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    group_by: z.enum(['day', 'model', 'user']),
    items: z.array(UsageItemSchema),
    totals: z.object(counts),
  })
  .register(z.globalRegistry, { id: 'UsageReport' });
export type UsageReport = z.infer<typeof UsageReportSchema>;
