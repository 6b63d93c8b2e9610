export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The most stored messages (50 turns) sent as history when an ask gives none: trimmed from the
 * oldest end to fit the model's context, and never more than this, so that an ask costs the same
 * reads at turn 1 and turn 200.
 */
export const MAX_HISTORY_MESSAGES = 100;

/** Tokens kept free for the model's answer. */
export const ANSWER_RESERVE_TOKENS = 4096;

/**
 * A cautious token estimate: UTF-8 bytes / 3 (English runs ~4 characters a token, CJK ~1
 * character, 3 bytes, a token), plus a few tokens of per-message overhead.
 */
export const estimateTokens = (text: string): number => Math.ceil(Buffer.byteLength(text, 'utf8') / 3) + 4;

const CONTEXT_WINDOWS: Array<[RegExp, number]> = [
  [/^gpt-4\.1/, 1_000_000],
  [/^(o1|o3|o4)/, 200_000],
  [/^gpt-4o|^gpt-4-turbo|^gpt-5|^chatgpt-4o/, 128_000],
  [/^gpt-4-32k/, 32_768],
  [/^gpt-4/, 8_192],
  [/^gpt-3\.5-turbo/, 16_385],
];

/** The model's context window in tokens; unknown models (other providers) are taken as 32k. */
export function contextWindow(model: string): number {
  return CONTEXT_WINDOWS.find(([pattern]) => pattern.test(model))?.[1] ?? 32_768;
}

/** How many tokens of stored history fit beside the system prompt, the message and the answer. */
export function historyBudget(model: string, system: string | undefined, message: string): number {
  return contextWindow(model) - ANSWER_RESERVE_TOKENS - (system ? estimateTokens(system) : 0) - estimateTokens(message);
}

/**
 * Keeps the newest turns that fit in `budget` tokens (history given newest first), returned oldest
 * first: the conversation is trimmed from its oldest end.
 */
export function fitHistory(newestFirst: ChatMessage[], budget: number): ChatMessage[] {
  const kept: ChatMessage[] = [];
  let used = 0;
  for (const turn of newestFirst.slice(0, MAX_HISTORY_MESSAGES)) {
    used += estimateTokens(turn.content);
    if (used > budget) break;
    kept.push(turn);
  }
  return kept.reverse();
}

/** The messages sent to the model: system prompt, earlier turns, then the message. */
export function buildPrompt(system: string | undefined, history: ChatMessage[], message: string): ChatMessage[] {
  return [...(system ? [{ role: 'system' as const, content: system }] : []), ...history, { role: 'user', content: message }];
}
