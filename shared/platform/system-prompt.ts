import { env } from './env.js';

/**
 * The stage's system prompt, built into the answering workers' bundles by esbuild's `define`
 * (infra/jobs.ts): it is no environment variable (Lambda allows 4 KB of those per function, and a
 * prompt may be far longer), no other function carries it, and reading it costs nothing.
 */
declare const __AI_CHAT_SYSTEM_PROMPT__: string | undefined;

/** The identifier esbuild replaces with the stage's prompt (a JSON string literal). */
export const SYSTEM_PROMPT_DEFINE = '__AI_CHAT_SYSTEM_PROMPT__';

/**
 * The system prompt when neither the task nor the session has one: `AI_SYSTEM_PROMPT` (the local
 * stack, as the integration guide sets it), else the stage's prompt built into the bundle.
 * @example const prompt = session.system_prompt ?? defaultSystemPrompt();
 */
export function defaultSystemPrompt(): string | undefined {
  return env.defaultSystemPrompt() ?? (typeof __AI_CHAT_SYSTEM_PROMPT__ === 'string' ? __AI_CHAT_SYSTEM_PROMPT__ : undefined);
}
