import { publishFinished } from '../events/publish.js';
import type { ChatMessage } from '../llm/prompt.js';
import type { MessageItem } from '../messages/repository.js';
import type { TaskItem } from '../tasks/repository.js';
import type { ClaimedItem } from './claims.js';
import { ANSWER, type WorkKind } from './work-items.js';
import { estimateTokens } from '../llm/prompt.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import type { TokenUsage } from '../usage/repository.js';
import { defaultUsageService } from '../usage/service.js';

/** What a model call used: as the provider reported it, or estimated from the prompt and the text when it did not (a stopped stream reports nothing). */
export function usageOf(reported: TokenUsage | undefined, prompt: ChatMessage[], text: string): TokenUsage {
  if (reported) return reported;
  const prompt_tokens = prompt.reduce((sum, message) => sum + estimateTokens(message.content), 0);
  const completion_tokens = text ? estimateTokens(text) : 0;
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

/**
 * Counts what one model call used, once, by the worker that made it, after its outcome was written:
 * a completed answer, one stopped by a cancel (what it generated), one too large to store. A failure
 * to count is logged and measured (`UsageNotCounted`), never a reason to answer again.
 */
export async function countUsage(entry: { orgId: string; userId: unknown; model: string; usage: TokenUsage }): Promise<void> {
  try {
    await defaultUsageService().record({ ...entry, userId: typeof entry.userId === 'string' ? entry.userId : 'unknown', finishedAtMs: Date.now() });
  } catch (error) {
    addMetric('UsageNotCounted', MetricUnit.Count, 1);
    logger.error('could not count usage', { error: (error as Error).name, tokens: entry.usage.total_tokens });
  }
}

/**
 * What follows an item settled just now by this caller (and by no other): its event for the
 * organization's webhook, if it has one.
 */
export async function afterSettled(orgId: string, kind: WorkKind, item: ClaimedItem | undefined): Promise<void> {
  if (!item) return;
  await publishFinished(orgId, kind === ANSWER ? { message: item as unknown as MessageItem } : { task: item as unknown as TaskItem });
}
