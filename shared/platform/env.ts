/**
 * Every environment variable the runtime reads, each named once here: the CDK stack (infra/) and
 * the local stack (bin/local/) set them by these names, and code reads them only through `env`.
 * Values are read on use, never at import, so the local stack and the tests can set them before the
 * first call; a wrong value fails with a sentence naming the variable.
 */
export const VARIABLES = {
  stage: 'STAGE',
  tableName: 'TABLE_NAME',
  askQueueUrl: 'ASK_QUEUE_URL',
  /** The task queue keeps the name the URLs use (`/ctx`), as the deployed stack does. */
  taskQueueUrl: 'CTX_QUEUE_URL',
  /** Finished answers' and tasks' events, for the organizations' webhooks. */
  webhookQueueUrl: 'WEBHOOK_QUEUE_URL',
  erasureQueueUrl: 'ERASURE_QUEUE_URL',
  /** Local only: the waits between a webhook's tries, in seconds, comma-separated (else Standard Webhooks' schedule). */
  webhookRetrySeconds: 'LOCAL_WEBHOOK_RETRY_SECONDS',
  /** Local only: webhooks may be http://127.0.0.1 (in AWS only https to public addresses). */
  webhookAllowLoopback: 'LOCAL_WEBHOOK_ALLOW_LOOPBACK',
  /** Local and tests only: seconds added to the clock retention is judged by. */
  clockOffsetSeconds: 'LOCAL_CLOCK_OFFSET_SECONDS',
  orgRateLimitPerMinute: 'ORG_RATE_LIMIT_PER_MINUTE',
  orgReadRateLimitPerMinute: 'ORG_READ_RATE_LIMIT_PER_MINUTE',
  orgMaxInFlight: 'ORG_MAX_IN_FLIGHT',
  systemPrompt: 'AI_SYSTEM_PROMPT',
  jobMaxAttempts: 'JOB_MAX_ATTEMPTS',
  jobRetryBaseSeconds: 'JOB_RETRY_BASE_SECONDS',
  jobDeadlineMinutes: 'JOB_DEADLINE_MINUTES',
  orgSecretPrefix: 'ORG_SECRET_PREFIX',
  orgSecretMaxAgeSeconds: 'ORG_SECRET_MAX_AGE_SECONDS',
  /** The role a worker takes, tagged with the organization, to read that organization's secret only. */
  tenantSecretsRoleArn: 'TENANT_SECRETS_ROLE_ARN',
  clerkJwtKey: 'CLERK_JWT_KEY',
  clerkSecretKey: 'CLERK_SECRET_KEY',
  clerkSecretName: 'CLERK_SECRET_NAME',
  clerkAuthorizedParties: 'CLERK_AUTHORIZED_PARTIES',
  /** Clerk's Backend API (its JWKS is read with the secret key); Clerk's own variable. */
  clerkApiUrl: 'CLERK_API_URL',
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  /** Local only (npm start --mock-model): the mock model that answers organizations without a key of their own. */
  mockModelUrl: 'LOCAL_MOCK_MODEL_URL',
  /** Browser origins allowed by CORS: the stack's setting (infra/stage.ts) and the local gateway's. */
  corsOrigins: 'CORS_ORIGINS',
} as const;

export type Variable = keyof typeof VARIABLES;

const raw = (variable: Variable): string | undefined => process.env[VARIABLES[variable]] || undefined;

function numberOf(variable: Variable, fallback: number, min = 0): number {
  const value = raw(variable);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min) throw new Error(`${VARIABLES[variable]} must be a number >= ${min}, got "${value}"`);
  return parsed;
}

function required(variable: Variable): string {
  const value = raw(variable);
  if (!value) throw new Error(`${VARIABLES[variable]} is not set`);
  return value;
}

const list = (variable: Variable): string[] | undefined => {
  const items = raw(variable)?.split(',').map((item) => item.trim()).filter(Boolean);
  return items?.length ? items : undefined;
};

/** The settings, each read from its variable when called. */
export const env = {
  /** The stage (`dev`, `prod`, ...; `local` for npm start): a dimension of every metric. */
  stage: () => raw('stage') ?? 'local',
  tableName: () => required('tableName'),
  askQueueUrl: () => required('askQueueUrl'),
  taskQueueUrl: () => required('taskQueueUrl'),
  /** Unset: no function publishes webhook events (a stack or test without the queue). */
  webhookQueueUrl: () => raw('webhookQueueUrl'),
  erasureQueueUrl: () => required('erasureQueueUrl'),
  /** Local only: a shorter schedule of webhook retries (seconds after each failed try). */
  webhookRetrySeconds: (): number[] | undefined => list('webhookRetrySeconds')?.map((item) => {
    const seconds = Number(item);
    if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`${VARIABLES.webhookRetrySeconds} must be numbers of seconds, got "${item}"`);
    return seconds;
  }),
  /** Local only: webhooks on http://127.0.0.1 or localhost are called. */
  webhookAllowLoopback: () => raw('webhookAllowLoopback') === '1',
  clockOffsetSeconds: () => Number(raw('clockOffsetSeconds') ?? 0) || 0,
  /** Asks and tasks an organization may start in any minute. */
  orgRateLimitPerMinute: () => numberOf('orgRateLimitPerMinute', 120, 1),
  /**
   * Answers (asks and tasks) of one organization being generated at once, across all workers; 0
   * for no cap. The rest wait their turn, so that other organizations' asks start at once.
   */
  orgMaxInFlight: () => numberOf('orgMaxInFlight', 10, 0),
  /** List reads (sessions, messages) an organization may make in any minute: they fan out, single reads do not. */
  orgReadRateLimitPerMinute: () => numberOf('orgReadRateLimitPerMinute', 1200, 1),
  /** The system prompt when neither the task nor the session has one. */
  defaultSystemPrompt: () => raw('systemPrompt'),
  /** Tries of one answer before a passing failure (429, 5xx, timeout) becomes final. */
  jobMaxAttempts: () => numberOf('jobMaxAttempts', 3, 1),
  /** First retry delay; each further one doubles (capped at 5 minutes). */
  jobRetryBaseSeconds: () => numberOf('jobRetryBaseSeconds', 10, 0),
  /**
   * A message or task still waiting after this long is reported FAILED when read, whatever became of
   * its job: the last guarantee that nothing stays PENDING forever.
   */
  jobDeadlineMinutes: () => numberOf('jobDeadlineMinutes', 60, 1),
  /** In AWS, each organization's secret is `<prefix><orgId>`; unset, settings come from the environment. */
  orgSecretPrefix: () => raw('orgSecretPrefix'),
  /** How long an organization's secret is cached by a worker. */
  orgSecretMaxAgeSeconds: () => numberOf('orgSecretMaxAgeSeconds', 300, 0),
  /** Local only: the mock model's base URL (bin/local/mock-model.ts); never set in a deployment. */
  mockModelUrl: () => raw('mockModelUrl'),
  /** In AWS, the tenant role: each organization's secret is read with a session of it tagged `org=<orgId>`. */
  tenantSecretsRoleArn: () => raw('tenantSecretsRoleArn'),
  /** Clerk's PEM public key; a PEM given with literal `\n`s is unescaped. */
  clerkJwtKey: () => raw('clerkJwtKey')?.replace(/\\n/g, '\n'),
  clerkSecretKey: () => raw('clerkSecretKey'),
  clerkSecretName: () => raw('clerkSecretName'),
  clerkApiUrl: () => raw('clerkApiUrl') ?? 'https://api.clerk.com/v1',
  clerkAuthorizedParties: () => list('clerkAuthorizedParties'),
  serviceName: () => raw('serviceName') ?? 'ai-chat',
  /**
   * A variable whose name is made at run time: the integration guide's per-organization settings
   * `{ORG_ID}_OPENAI_API_KEY`, `_BASE_URL`, `_MODEL` and their fallbacks (platform/org-settings.ts).
   */
  named: (name: string): string | undefined => process.env[name] || undefined,
};
