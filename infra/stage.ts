import { z } from 'zod';

/** A stage's settings, from CDK context (`-c name=value`) and the environment, validated before any synth. */
export const StageSettingsSchema = z.object({
  stage: z.string().regex(/^[a-z][a-z0-9-]{0,19}$/, 'stage must be lower-case letters, digits and dashes, 1-20 long'),
  clerkJwtKey: z.string().includes('BEGIN PUBLIC KEY', { error: 'CLERK_JWT_KEY must be a PEM public key' }).optional(),
  clerkAuthorizedParties: z.string().optional(),
  corsOrigins: z.array(z.string().min(1)).default([]),
  systemPrompt: z.string().max(100_000).optional(),
  rateLimitPerMinute: z.coerce.number().int().min(1).default(120),
});

export interface StageSettings {
  stage: string;
  protect: boolean;
  corsOrigins: string[];
  clerkEnvironment: Record<string, string>;
  systemPrompt?: string;
  rateLimitPerMinute: number;
  /** Secrets Manager name prefix of the organizations' secrets. */
  orgSecretPrefix: string;
}

/** Reads and checks a stage's settings. */
export function stageSettings(context: (key: string) => unknown, env: NodeJS.ProcessEnv = process.env): StageSettings {
  const parsed = StageSettingsSchema.parse({
    stage: context('stage') ?? env.STAGE ?? 'dev',
    clerkJwtKey: (context('clerkJwtKey') as string | undefined) ?? env.CLERK_JWT_KEY,
    clerkAuthorizedParties: (context('clerkAuthorizedParties') as string | undefined) ?? env.CLERK_AUTHORIZED_PARTIES,
    systemPrompt: (context('systemPrompt') as string | undefined) ?? env.AI_SYSTEM_PROMPT,
    rateLimitPerMinute: context('rateLimitPerMinute') ?? env.ORG_RATE_LIMIT_PER_MINUTE,
    corsOrigins: String(context('corsOrigins') ?? env.CORS_ORIGINS ?? '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean),
  });
  return {
    stage: parsed.stage,
    protect: parsed.stage === 'prod',
    corsOrigins: parsed.corsOrigins,
    systemPrompt: parsed.systemPrompt,
    rateLimitPerMinute: parsed.rateLimitPerMinute,
    orgSecretPrefix: `ai-chat/${parsed.stage}/orgs/`,
    clerkEnvironment: {
      ...(parsed.clerkJwtKey ? { CLERK_JWT_KEY: parsed.clerkJwtKey } : {}),
      ...(parsed.clerkAuthorizedParties ? { CLERK_AUTHORIZED_PARTIES: parsed.clerkAuthorizedParties } : {}),
    },
  };
}
