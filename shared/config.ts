/**
 * Settings read from the environment, with their defaults. Read on use (not at import), so the
 * local stack and the tests can set them before the first call.
 */
const numberFrom = (name: string, fallback: number, min = 0): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got "${raw}"`);
  return value;
};

export const config = {
  /** Asks and ctx tasks an organization may start in any minute. */
  orgRateLimitPerMinute: () => numberFrom('ORG_RATE_LIMIT_PER_MINUTE', 120, 1),
  /** The system prompt when neither the task nor the session has one. */
  defaultSystemPrompt: () => process.env.AI_SYSTEM_PROMPT || undefined,
  /** The model when neither the request nor the organization names one. */
  defaultModel: () => 'gpt-4o',
  /** Tries of one answer before a passing failure (429, 5xx, timeout) becomes final. */
  jobMaxAttempts: () => numberFrom('JOB_MAX_ATTEMPTS', 3, 1),
  /** First retry delay; each further one doubles (capped at 5 minutes). */
  jobRetryBaseSeconds: () => numberFrom('JOB_RETRY_BASE_SECONDS', 10, 0),
  /**
   * A message or task still waiting after this long is reported FAILED when read, whatever became of
   * its job: the last guarantee that nothing stays PENDING forever.
   */
  jobDeadlineMinutes: () => numberFrom('JOB_DEADLINE_MINUTES', 60, 1),
  askQueueUrl: () => required('ASK_QUEUE_URL'),
  ctxQueueUrl: () => required('CTX_QUEUE_URL'),
  /** In AWS, each organization's secret is `<prefix><orgId>`; unset, settings come from the environment. */
  orgSecretPrefix: () => process.env.ORG_SECRET_PREFIX || undefined,
  /** How long an organization's secret is cached by a worker. */
  orgSecretMaxAgeSeconds: () => numberFrom('ORG_SECRET_MAX_AGE_SECONDS', 300, 0),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}
