import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { z } from 'zod';
import { orgSecretPrefix, STAGE_PATTERN } from '../shared/contract/rules.js';
import { VARIABLES } from '../shared/platform/env.js';

const RETENTIONS = Object.values(RetentionDays).filter((value): value is number => typeof value === 'number');
const csv = (value: unknown): string[] =>
  String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);

/**
 * A stage's settings. Each comes from CDK context (`-c name=value`), else cdk.json's
 * `stages.<stage>.<name>`, else the environment variable named beside it, and is checked before
 * anything is synthesized.
 */
export const StageSettingsSchema = z
  .object({
    /** `-c stage=` / STAGE: lower-case letters, digits and dashes. */
    stage: z.string().regex(STAGE_PATTERN, 'stage must be lower-case letters, digits and dashes, 1 to 20 long, starting with a letter'),
    /** `-c clerkJwtKey=` / CLERK_JWT_KEY: Clerk's PEM public key (networkless verification, recommended). */
    clerkJwtKey: z
      .string()
      .transform((pem) => pem.replace(/\\n/g, '\n'))
      .pipe(z.string().regex(/-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----/, 'CLERK_JWT_KEY must be a PEM public key'))
      .optional(),
    /** `-c clerkSecretName=` / CLERK_SECRET_NAME: a Secrets Manager secret holding the Clerk secret key (JWKS verification). */
    clerkSecretName: z.string().regex(/^[\w/+=.@-]{1,512}$/, 'clerkSecretName must be a Secrets Manager secret name').optional(),
    /** `-c clerkAuthorizedParties=` / CLERK_AUTHORIZED_PARTIES: comma-separated origins allowed in `azp`. */
    clerkAuthorizedParties: z.array(z.url({ error: 'each authorized party must be an origin such as https://app.example.com' })),
    /** `-c corsOrigins=` / CORS_ORIGINS: comma-separated browser origins allowed to call the API. */
    corsOrigins: z.array(z.union([z.literal('*'), z.url({ error: 'each CORS origin must be an origin such as https://app.example.com, or *' })])),
    /**
     * `-c systemPrompt=` / AI_SYSTEM_PROMPT: built into the answering workers' bundles, handed to
     * esbuild as one argument (Linux takes 128 KB an argument): 100,000 characters and 120,000 bytes as JSON at most.
     */
    systemPrompt: z
      .string()
      .max(100_000)
      .refine((prompt) => Buffer.byteLength(JSON.stringify(prompt)) <= 120_000, { error: 'systemPrompt must be at most 120,000 bytes as JSON (UTF-8)' })
      .optional(),
    /** `-c rateLimitPerMinute=` / ORG_RATE_LIMIT_PER_MINUTE */
    rateLimitPerMinute: z.coerce.number().int().min(1).max(1_000_000),
    /** `-c readRateLimitPerMinute=` / ORG_READ_RATE_LIMIT_PER_MINUTE: list reads per organization per minute. */
    readRateLimitPerMinute: z.coerce.number().int().min(1).max(1_000_000),
    /** `-c logRetentionDays=` / LOG_RETENTION_DAYS: one of CloudWatch's retention periods. */
    logRetentionDays: z.coerce
      .number()
      .refine((days) => RETENTIONS.includes(days), { error: `logRetentionDays must be one of ${RETENTIONS.join(', ')}` }),
    /** `-c alarmEmail=` / ALARM_EMAIL: where alarms are mailed (optional). */
    alarmEmail: z.email({ error: 'alarmEmail must be an email address' }).optional(),
    /** `-c apiRateLimit=` / API_RATE_LIMIT: the API stage's steady requests per second. */
    apiRateLimit: z.coerce.number().int().min(1),
    /** `-c apiBurstLimit=` / API_BURST_LIMIT */
    apiBurstLimit: z.coerce.number().int().min(1),
    /** `-c workerMaxConcurrency=` / WORKER_MAX_CONCURRENCY: batches each answering worker runs at once (each answers up to 10 jobs side by side). */
    workerMaxConcurrency: z.coerce.number().int().min(2).max(1000),
    /** `-c orgMaxInFlight=` / ORG_MAX_IN_FLIGHT: answers of one organization generated at once, across all workers (0: no cap). */
    orgMaxInFlight: z.coerce.number().int().min(0).max(10_000),
    /** `-c jobRouteRateLimit=` / JOB_ROUTE_RATE_LIMIT: requests per second of each of the ask and ctx routes (burst twice that). */
    jobRouteRateLimit: z.coerce.number().int().min(1),
    /** `-c wafRequestsPerIp=` / WAF_REQUESTS_PER_IP: requests one IP address may send in 5 minutes before the WAF blocks it. */
    wafRequestsPerIp: z.coerce.number().int().min(10).max(2_000_000_000),
    /**
     * `-c protect=` / PROTECT: point-in-time recovery, deletion protection, RETAIN of the data and
     * logs, termination protection. On unless asked off (cdk.json asks it off for dev).
     */
    protect: flag,
    /** `-c account=` / AI_CHAT_ACCOUNT: the account this stage deploys to (required when protected). */
    account: z.string().regex(/^\d{12}$/, 'account must be a 12-digit AWS account id').optional(),
    /** `-c region=` / AI_CHAT_REGION: the region this stage deploys to (required when protected). */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'region must be an AWS region such as eu-west-1').optional(),
    /** `-c owner=` / AI_CHAT_OWNER: the team answerable for the stage, tagged on every resource. */
    owner: z.string().regex(/^[\w .:/=+@-]{1,128}$/, 'owner must be 1 to 128 letters, digits, spaces or _.:/=+-@').default('unassigned'),
    /**
     * `-c apiDomainName=` and `-c apiCertificateArn=` / API_DOMAIN_NAME, API_CERTIFICATE_ARN: a custom
     * domain for the HTTP API (with a regional ACM certificate) that the front calls, so that the
     * default execute-api endpoint can be turned off.
     */
    apiDomainName: z.string().regex(/^([a-z0-9-]+\.)+[a-z]{2,}$/, 'apiDomainName must be a domain name such as api-origin.example.com').optional(),
    apiCertificateArn: z.string().regex(/^arn:aws[\w-]*:acm:[\w-]+:\d{12}:certificate\/[\w-]+$/, 'apiCertificateArn must be an ACM certificate ARN').optional(),
  })
  .refine((settings) => !(settings.clerkJwtKey && settings.clerkSecretName), {
    error: 'Give CLERK_JWT_KEY or clerkSecretName, not both',
  })
  .refine((settings) => !settings.protect || (settings.account && settings.region), {
    error:
      'A protected stage deploys to one account and region only: pin them with -c account=<12 digits> -c region=<region> ' +
      '(or stages.<stage>.account and .region in cdk.json), or set -c protect=false for a stage whose data may be lost',
  })
  .refine((settings) => !settings.protect || !settings.corsOrigins.includes('*'), {
    error: 'A protected stage does not accept CORS origin * : name the browser origins allowed to call it',
  })
  .refine((settings) => Boolean(settings.apiDomainName) === Boolean(settings.apiCertificateArn), {
    error: 'Give apiDomainName and apiCertificateArn together',
  });

export type StageSettingsInput = z.input<typeof StageSettingsSchema>;

export interface StageSettings extends z.output<typeof StageSettingsSchema> {
  /** Secrets Manager name prefix of the organizations' secrets: `ai-chat/<stage>/orgs/`. */
  orgSecretPrefix: string;
}

/**
 * Reads and checks a stage's settings; throws with every problem named. `context` is the CDK
 * context: a setting is read as `-c <name>=`, then from `stages.<stage>.<name>` (cdk.json).
 */
export function stageSettings(context: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): StageSettings {
  const stage = String(context('stage') ?? env[VARIABLES.stage] ?? 'dev');
  const stages = context('stages');
  const ofStage = (stages && typeof stages === 'object' ? (stages as Record<string, Record<string, unknown> | undefined>)[stage] : undefined) ?? {};
  const pick = (key: string, variable: string): unknown => context(key) ?? ofStage[key] ?? env[variable] ?? undefined;
  const protect = pick('protect', 'PROTECT') ?? true;
  const protectedStage = protect === true || protect === 'true';
  const result = StageSettingsSchema.safeParse({
    stage,
    clerkJwtKey: pick('clerkJwtKey', VARIABLES.clerkJwtKey) || undefined,
    clerkSecretName: pick('clerkSecretName', VARIABLES.clerkSecretName) || undefined,
    clerkAuthorizedParties: csv(pick('clerkAuthorizedParties', VARIABLES.clerkAuthorizedParties)),
    corsOrigins: csv(pick('corsOrigins', VARIABLES.corsOrigins)),
    systemPrompt: pick('systemPrompt', VARIABLES.systemPrompt) || undefined,
    rateLimitPerMinute: pick('rateLimitPerMinute', VARIABLES.orgRateLimitPerMinute) ?? 120,
    readRateLimitPerMinute: pick('readRateLimitPerMinute', VARIABLES.orgReadRateLimitPerMinute) ?? 1200,
    logRetentionDays: pick('logRetentionDays', 'LOG_RETENTION_DAYS') ?? (protectedStage ? 365 : 30),
    alarmEmail: pick('alarmEmail', 'ALARM_EMAIL') || undefined,
    apiRateLimit: pick('apiRateLimit', 'API_RATE_LIMIT') ?? (protectedStage ? 200 : 20),
    apiBurstLimit: pick('apiBurstLimit', 'API_BURST_LIMIT') ?? (protectedStage ? 400 : 40),
    jobRouteRateLimit: pick('jobRouteRateLimit', 'JOB_ROUTE_RATE_LIMIT') ?? (protectedStage ? 50 : 5),
    workerMaxConcurrency: pick('workerMaxConcurrency', 'WORKER_MAX_CONCURRENCY') ?? (protectedStage ? 50 : 10),
    orgMaxInFlight: pick('orgMaxInFlight', VARIABLES.orgMaxInFlight) ?? 10,
    wafRequestsPerIp: pick('wafRequestsPerIp', 'WAF_REQUESTS_PER_IP') ?? 2000,
    protect,
    account: pick('account', 'AI_CHAT_ACCOUNT') || undefined,
    region: pick('region', 'AI_CHAT_REGION') || undefined,
    owner: pick('owner', 'AI_CHAT_OWNER') || undefined,
    apiDomainName: pick('apiDomainName', 'API_DOMAIN_NAME') || undefined,
    apiCertificateArn: pick('apiCertificateArn', 'API_CERTIFICATE_ARN') || undefined,
  });
  if (!result.success) {
    throw new Error(`Stage settings are not valid:\n${result.error.issues.map((issue) => `- ${issue.path.join('.') || 'settings'}: ${issue.message}`).join('\n')}`);
  }
  return { ...result.data, orgSecretPrefix: orgSecretPrefix(result.data.stage) };
}
