import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_MODEL } from '../contract/rules.js';
import { askModel, type ModelAnswer } from '../llm/chat-model.js';
import { classifyModelFailure } from '../llm/failures.js';
import { buildPrompt, estimateTokens, fitHistory, historyBudget, MAX_HISTORY_MESSAGES, type ChatMessage } from '../llm/prompt.js';
import { dynamoMessageRepository } from '../messages/repository.js';
import { env } from '../platform/env.js';
import { isBusyError } from '../platform/errors.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { orgSettings, OrgSettingsInvalid, type OrgSettings } from '../platform/org-settings.js';
import type { Db } from '../store/client.js';
import { release, settle, type WorkItemFields } from './claims.js';
import { discardProgress, liveWriter, readProgress } from './progress.js';
import { progressPump } from './progress-pump.js';
import { afterSettled, countUsage, usageOf } from './finished.js';
import { gaveUpSentence, type WorkItemState, type WorkKind } from './work-items.js';

/** What became of a job: finished (delete it), or to be tried again after a delay. */
export type Outcome =
  | { finished: true }
  | {
      finished: false;
      retryAfterSeconds: number;
      reason: string;
      /** Nothing was tried (no claim taken): the invocation had no time left for it. */
      untried?: true;
    };

/** A job that waits for one of its organization's places in flight (no try was counted). */
export const orgAtCapacity = (): Outcome => ({
  finished: false,
  retryAfterSeconds: 2 + Math.round(Math.random() * 2),
  reason: 'the organization has as many answers in flight as it may',
  untried: true,
});

/** A job left for another invocation because this one has no time left to answer it (no try was counted). */
export const NOT_ENOUGH_TIME: Outcome = { finished: false, retryAfterSeconds: 0, reason: 'not enough time left in this invocation', untried: true };

export const FINISHED: Outcome = { finished: true };

/** One delivery of a job to a worker. */
export interface Attempt {
  /** Unique per delivery: who holds a claim. */
  claimer: string;
  /** Milliseconds left in this invocation. */
  remainingMs: () => number;
}

/** Kept free in an invocation after the model call, to write its outcome. */
const WRITE_MARGIN_MS = 10_000;
/** The least time a model call is given; with less left, the job comes back instead. */
const MIN_MODEL_MS = 5_000;

/** Whether an invocation has time left to call the model and write the outcome. */
export const hasTimeToAnswer = (attempt: Attempt): boolean => attempt.remainingMs() - WRITE_MARGIN_MS >= MIN_MODEL_MS;

/** A claim outlives the longest invocation, so that only a dead worker's claim can expire. */
export const LEASE_MS = 150_000;

/** The delay before try `attempt + 1`: base × 2^(attempt-1), at most 5 minutes, with some jitter. */
export function retryDelaySeconds(attempt: number): number {
  const base = env.jobRetryBaseSeconds() * 2 ** Math.max(0, attempt - 1);
  return Math.min(300, Math.round(base * (0.8 + Math.random() * 0.4)));
}

/** A claimed item to answer: which, of what kind, and what to ask. */
export interface WorkToAnswer {
  kind: WorkKind;
  key: { pk: string; sk: string };
  /** The claimed message or task. */
  claimed: WorkItemState & { request_model?: string; user_id?: string };
  orgId: string;
  sessionId: string;
  /** The message id of the answer, or the ctx id of the task. */
  itemId: string;
  systemPrompt: string | undefined;
  message: string;
  /**
   * The request's own history; or how to read the stored one, newest first until `enough` (the ask
   * reads it from what it has read of the session already); or, when undefined, it is read from the
   * session's messages before `historyBefore` (the task).
   */
  history: ChatMessage[] | ((enough: (newestFirst: ChatMessage[]) => boolean) => Promise<ChatMessage[]>) | undefined;
  historyBefore: string;
  /** The fields of a done item, from the model's answer. */
  doneFields: (answer: ModelAnswer) => WorkItemFields;
}

/** Calls the model for a claimed item and settles it: done, failed, or released for a later try. */
export async function answerClaimed(db: Db, work: WorkToAnswer, attempt: Attempt): Promise<Outcome> {
  const { kind, key, claimed, orgId } = work;
  const attempts = Number(claimed.attempts ?? 1);
  const fail = (sentence: string) => settleFailed(db, work, attempt, kind.failedFields(sentence));
  // Tried before and never settled (its worker died each time): stop here.
  if (attempts > env.jobMaxAttempts()) return fail(gaveUpSentence(attempts - 1, claimed.last_error));

  let settings: OrgSettings | undefined;
  let model: string;
  let messages: ChatMessage[];
  const ref = { orgId, sessionId: work.sessionId, itemId: work.itemId };
  const live = liveWriter(db, ref, attempt.claimer, attempts);
  try {
    settings = await orgSettings(orgId);
    if (!settings) return fail(`OpenAI API key not found for organization ${orgId}`);
    model = claimed.request_model ?? settings.model ?? DEFAULT_MODEL;
    const history = Array.isArray(work.history) ? work.history : await storedHistory(db, work, historyBudget(model, work.systemPrompt, work.message));
    messages = buildPrompt(work.systemPrompt, history, work.message);
  } catch (error) {
    if (error instanceof OrgSettingsInvalid) return fail(error.message);
    // The secret store or the table failed before the model was asked: the claim goes back at once
    // (not left to its lease), and the job comes back after its backoff.
    logger.warn('could not prepare the model call', { error: (error as Error).name, attempt: attempts });
    const sentence = 'The organization’s settings or the conversation could not be read just now.';
    await release(db, key, kind.lifecycle, attempt.claimer, sentence);
    return { finished: false, retryAfterSeconds: retryDelaySeconds(attempts), reason: sentence };
  }

  const timeoutMs = attempt.remainingMs() - WRITE_MARGIN_MS;
  if (timeoutMs < MIN_MODEL_MS) {
    await release(db, key, kind.lifecycle, attempt.claimer, 'The worker ran out of time before calling the model.');
    return { finished: false, retryAfterSeconds: 1, reason: 'not enough time left in this invocation' };
  }

  const startedAt = Date.now();
  // The text is written as progress while it streams; a cancel or a lost claim found by a progress
  // write (or by the check made each second while no text comes) aborts the call.
  /** One streamed call, its text written as progress; 'stopped' when a cancel or a lost claim ended it. */
  const call = async (with_: OrgSettings, ms: number): Promise<ModelAnswer | 'stopped'> => {
    const stop = new AbortController();
    const pump = progressPump(live, stop, (error) => logger.warn('a progress write failed', { error: (error as Error).name }));
    try {
      return await askModel(with_, model, messages, ms, { signal: stop.signal, onText: pump.add });
    } catch (error) {
      if (stop.signal.aborted) return 'stopped';
      throw error;
    } finally {
      await pump.close();
    }
  };
  // Cancelled: the item says so with what was generated (unless the cancel wrote it first). A lost
  // claim: another worker answers the item now, and this one leaves it to that worker.
  const stopped = async (): Promise<Outcome> => {
    const progress = await readProgress(db, ref);
    if (!progress?.cancelledAt) return FINISHED;
    const outcome = await settleCancelled(db, work, attempt, progress.text);
    // The call was stopped; what it generated until then was billed all the same.
    await countUsage({ orgId, userId: claimed.user_id, model, usage: usageOf(undefined, messages, progress.text) });
    return outcome;
  };
  let result: ModelAnswer;
  try {
    const answer = await call(settings, timeoutMs);
    if (answer === 'stopped') return stopped();
    result = answer;
  } catch (error) {
    let failure = classifyModelFailure(error, orgId, model);
    let retried: ModelAnswer | undefined;
    if (failure.kind === 'key_refused') {
      // Maybe the key was rotated since it was cached: read it afresh and try once more with it.
      const fresh = await orgSettings(orgId, { fresh: true });
      if (fresh && fresh.apiKey !== settings.apiKey) {
        try {
          const again = await call(fresh, attempt.remainingMs() - WRITE_MARGIN_MS);
          if (again === 'stopped') return stopped();
          retried = again;
        } catch (retryError) {
          failure = classifyModelFailure(retryError, orgId, model);
        }
      }
    }
    if (retried) return finish(db, work, attempt, retried, startedAt, messages);
    logger.warn('model call failed', { kind: failure.kind, attempt: attempts, status: (error as { status?: number }).status });
    if (failure.kind !== 'passing') return fail(failure.sentence);
    if (attempts >= env.jobMaxAttempts()) return fail(`${failure.sentence.replace(/\.$/, '')}, ${attempts} times. Try again later.`);
    if (!(await release(db, key, kind.lifecycle, attempt.claimer, failure.sentence))) await discardProgressIfGone(db, key);
    addMetric('ModelCallRetried', MetricUnit.Count, 1);
    return { finished: false, retryAfterSeconds: retryDelaySeconds(attempts), reason: failure.sentence };
  }
  return finish(db, work, attempt, result, startedAt, messages);
}

/** DynamoDB's limit on an item, and what is kept free in it for the other fields of an answer. */
const ITEM_LIMIT_BYTES = 400 * 1024;
const OTHER_FIELDS_BYTES = 4 * 1024;
const kilobytes = (bytes: number) => `${Math.ceil(bytes / 1024).toLocaleString('en-US')} KB`;

async function finish(db: Db, work: WorkToAnswer, attempt: Attempt, result: ModelAnswer, modelStartedAt: number, prompt: ChatMessage[]): Promise<Outcome> {
  const usage = usageOf(result.usage, prompt, result.content);
  const counted = () => countUsage({ orgId: work.orgId, userId: work.claimed.user_id, model: result.model, usage });
  // An answer the item cannot hold fails now, for good: trying again would only ask the model again.
  // A task's parsed JSON is stored beside its text: it counts too.
  const answerBytes = Buffer.byteLength(JSON.stringify(work.doneFields(result)), 'utf8');
  const room = ITEM_LIMIT_BYTES - OTHER_FIELDS_BYTES - Buffer.byteLength(JSON.stringify(work.claimed), 'utf8');
  if (answerBytes > room) {
    logger.warn('model answer too large to store', { answer_bytes: answerBytes, room_bytes: room });
    return settleFailed(db, work, attempt, work.kind.failedFields(tooLarge(answerBytes, room)), counted);
  }
  const now = Date.now();
  const created = Date.parse(work.claimed.created_at);
  const queueMs = Date.parse(String(work.claimed.started_at)) - created;
  addMetric(`${work.kind.metric}Completed`, MetricUnit.Count, 1);
  addMetric('ModelLatency', MetricUnit.Milliseconds, now - modelStartedAt);
  addMetric('QueueWait', MetricUnit.Milliseconds, queueMs);
  let settled: Awaited<ReturnType<typeof settle>>;
  try {
    settled = await persistently(attempt, () => settle(db, work.key, work.kind.lifecycle, attempt.claimer, work.kind.lifecycle.done, {
      ...work.doneFields(result),
      model: result.model,
      ...(result.usage ? { usage: result.usage } : {}),
      completed_at: new Date(now).toISOString(),
      latency_ms: now - created,
      // The split of that latency: waiting for a worker, and the model itself.
      timings: { queue_ms: queueMs, model_ms: now - modelStartedAt },
    }));
  } catch (error) {
    // The store refused the answer as it is (its size as stored, a value it cannot hold): that will
    // not pass by trying again, so the item fails with what happened.
    if ((error as Error).name !== 'ValidationException') throw error;
    logger.warn('the store refused a model answer', { error: (error as Error).name, answer_bytes: answerBytes });
    return settleFailed(db, work, attempt, work.kind.failedFields(tooLarge(answerBytes, room)), counted);
  }
  // A worker whose claim was taken over leaves the count and the event to the one that settles the item.
  if (settled) await Promise.all([counted(), afterSettled(work.orgId, work.kind, settled)]);
  else await discardProgressIfGone(db, work.key);
  return FINISHED;
}

/**
 * A write that must not be lost once the model has answered: tried again while the table is busy
 * (past the SDK's own retries) and the invocation has time, so that the answer is not asked for twice.
 */
async function persistently<T>(attempt: Attempt, write: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await write();
    } catch (error) {
      if (!isBusyError(error) || tries >= 5 || attempt.remainingMs() < 5_000) throw error;
      logger.warn('outcome write retried', { error: (error as Error).name, tries });
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** tries));
    }
  }
}

const tooLarge = (answerBytes: number, room: number) =>
  `The model's answer (${kilobytes(answerBytes)}) is larger than can be stored (about ${kilobytes(Math.max(0, room))} here). Ask for a shorter answer.`;

/** Settles a claimed item as failed with `fields` (the kind's failed fields of a sentence). */
export async function settleFailed(
  db: Db,
  work: Pick<WorkToAnswer, 'kind' | 'key' | 'claimed' | 'orgId'>,
  attempt: Attempt,
  fields: WorkItemFields,
  /** What follows when this worker settled it (not another, and the item was still there): counting what the model used. */
  onSettled?: () => Promise<void>,
): Promise<Outcome> {
  const now = Date.now();
  addMetric(`${work.kind.metric}Failed`, MetricUnit.Count, 1);
  const settled = await settle(db, work.key, work.kind.lifecycle, attempt.claimer, work.kind.lifecycle.failed, {
    ...fields,
    completed_at: new Date(now).toISOString(),
    latency_ms: now - Date.parse(work.claimed.created_at),
  });
  if (settled) await Promise.all([afterSettled(work.orgId, work.kind, settled), onSettled?.()]);
  else await discardProgressIfGone(db, work.key);
  return FINISHED;
}

/** Settles a claimed item as cancelled, keeping `textSoFar` (a no-op if the cancel wrote it first). */
async function settleCancelled(db: Db, work: Pick<WorkToAnswer, 'kind' | 'key' | 'claimed' | 'orgId'>, attempt: Attempt, textSoFar: string): Promise<Outcome> {
  const now = Date.now();
  const settled = await settle(db, work.key, work.kind.lifecycle, attempt.claimer, work.kind.lifecycle.cancelled, {
    ...work.kind.cancelledFields(textSoFar),
    completed_at: new Date(now).toISOString(),
    latency_ms: now - Date.parse(work.claimed.created_at),
  });
  if (settled) await afterSettled(work.orgId, work.kind, settled);
  else await discardProgressIfGone(db, work.key);
  return FINISHED;
}

/**
 * After a settle that found nothing to settle: when the item itself is gone (its session deleted or
 * erased while it was answered), the progress this worker may have written after the session's
 * sweep goes too. A claim lost to another worker leaves the progress to that worker.
 */
async function discardProgressIfGone(db: Db, key: { pk: string; sk: string }): Promise<void> {
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true, ProjectionExpression: 'pk' }));
  if (!Item) await discardProgress(db, key);
}

/** The session's finished messages before the item, newest first until the token budget is spent, then oldest first. */
async function storedHistory(db: Db, work: WorkToAnswer, budget: number): Promise<ChatMessage[]> {
  const spent = (turns: ChatMessage[]) => turns.reduce((sum, turn) => sum + estimateTokens(turn.content), 0);
  const enough = (turns: ChatMessage[]) => turns.length >= MAX_HISTORY_MESSAGES || spent(turns) > budget;
  const newestFirst =
    typeof work.history === 'function'
      ? await work.history(enough)
      : await dynamoMessageRepository(db).finishedTurnsBefore(work.orgId, work.sessionId, work.historyBefore, enough);
  return fitHistory(newestFirst, budget);
}

/**
 * Where a task's answer is JSON (bare, or in a ```json fence), `result_json` holds it parsed, if it
 * can be held faithfully: a number that a double cannot hold exactly (an integer beyond 2^53, more
 * than 15 significant digits, or out of range like 1e400), a number the store cannot hold (below
 * 1e-130) or nesting past the store's 32 levels leaves `result_json` out, and the text in `result`
 * stays the one source (the store would refuse or round it).
 */
export function resultJson(text: string): { result_json?: unknown } {
  const candidates = [text.trim(), /```(?:json)?\s*([\s\S]*?)```/i.exec(text)?.[1]?.trim()];
  for (const candidate of candidates) {
    if (!candidate || !/^[[{]/.test(candidate)) continue;
    let faithful = true;
    let parsed: unknown;
    try {
      // The reviver's third argument carries each number's source text (Node 21+).
      parsed = JSON.parse(candidate, (_key, value: unknown, context?: { source?: string }) => {
        if (typeof value === 'number' && !isFaithful(value, context?.source)) faithful = false;
        return value;
      });
    } catch {
      continue; // not JSON after all
    }
    return faithful && nestedWithin(parsed) ? { result_json: parsed } : {};
  }
  return {};
}

/** What DynamoDB holds: numbers of magnitude 1e-130 to 1e126, documents nested at most 32 levels. */
const SMALLEST_NUMBER = 1e-130;
const LARGEST_NUMBER = 9.9999999999999999e125;
const MAX_NESTING = 32;

function nestedWithin(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (depth >= MAX_NESTING) return false;
  return Object.values(value).every((child) => nestedWithin(child, depth + 1));
}

function isFaithful(value: number, source: string | undefined): boolean {
  if (!Number.isFinite(value)) return false;
  if (value !== 0 && (Math.abs(value) < SMALLEST_NUMBER || Math.abs(value) > LARGEST_NUMBER)) return false;
  if (Number.isInteger(value) && !Number.isSafeInteger(value)) return false;
  const digits = (source ?? String(value)).replace(/[eE].*$/, '').replace(/[^0-9]/g, '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 15;
}
