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

/**
 * A stage's settings. Each comes from CDK context (`-c name=value`) or else the environment
 * variable named beside it, and is checked before anything is synthesized.
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
    /** `-c systemPrompt=` / AI_SYSTEM_PROMPT */
    systemPrompt: z.string().max(100_000).optional(),
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
  })
  .refine((settings) => !(settings.clerkJwtKey && settings.clerkSecretName), {
    error: 'Give CLERK_JWT_KEY or clerkSecretName, not both',
  });

export type StageSettingsInput = z.input<typeof StageSettingsSchema>;

export interface StageSettings extends z.output<typeof StageSettingsSchema> {
  /** prod keeps its data: point-in-time recovery, deletion protection, RETAIN. */
  protect: boolean;
  /** Secrets Manager name prefix of the organizations' secrets: `ai-chat/<stage>/orgs/`. */
  orgSecretPrefix: string;
}

/** Reads and checks a stage's settings; throws with every problem named. */
export function stageSettings(context: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): StageSettings {
  const pick = (key: string, variable: string): unknown => context(key) ?? env[variable] ?? undefined;
  const stage = String(pick('stage', VARIABLES.stage) ?? 'dev');
  const prod = stage === 'prod';
  const result = StageSettingsSchema.safeParse({
    stage,
    clerkJwtKey: pick('clerkJwtKey', VARIABLES.clerkJwtKey) || undefined,
    clerkSecretName: pick('clerkSecretName', VARIABLES.clerkSecretName) || undefined,
    clerkAuthorizedParties: csv(pick('clerkAuthorizedParties', VARIABLES.clerkAuthorizedParties)),
    corsOrigins: csv(pick('corsOrigins', VARIABLES.corsOrigins)),
    systemPrompt: pick('systemPrompt', VARIABLES.systemPrompt) || undefined,
    rateLimitPerMinute: pick('rateLimitPerMinute', VARIABLES.orgRateLimitPerMinute) ?? 120,
    readRateLimitPerMinute: pick('readRateLimitPerMinute', VARIABLES.orgReadRateLimitPerMinute) ?? 1200,
    logRetentionDays: pick('logRetentionDays', 'LOG_RETENTION_DAYS') ?? (prod ? 365 : 30),
    alarmEmail: pick('alarmEmail', 'ALARM_EMAIL') || undefined,
    apiRateLimit: pick('apiRateLimit', 'API_RATE_LIMIT') ?? (prod ? 200 : 20),
    apiBurstLimit: pick('apiBurstLimit', 'API_BURST_LIMIT') ?? (prod ? 400 : 40),
  });
  if (!result.success) {
    throw new Error(`Stage settings are not valid:\n${result.error.issues.map((issue) => `- ${issue.path.join('.') || 'settings'}: ${issue.message}`).join('\n')}`);
  }
  return { ...result.data, protect: prod, orgSecretPrefix: orgSecretPrefix(result.data.stage) };
}
