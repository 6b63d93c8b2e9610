import { GetCommand, QueryCommand, UpdateCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { config } from '../config.js';
import { logger } from '../logger.js';
import { metrics, MetricUnit } from '../observability.js';
import { orgSettings, OrgSettingsInvalid, type OrgSettings } from '../org-settings.js';
import type { AskJob, Job, TaskJob } from '../schemas/jobs.js';
import { isConditionFailure, type Db } from '../store/db.js';
import { keys, MESSAGE_SK_PREFIX } from '../store/keys.js';
import { claim, failUnfinished, isFinished, MESSAGE_LIFECYCLE, release, settle, TASK_LIFECYCLE, type Lifecycle } from './lifecycle.js';
import { askModel, classifyModelFailure, type ModelAnswer } from './model.js';
import { buildPrompt, fitHistory, historyBudget, type ChatMessage } from './prompt.js';

type Item = Record<string, unknown>;

/** What became of a job: finished (delete it), or to be tried again after a delay. */
export type Outcome = { finished: true } | { finished: false; retryAfterSeconds: number; reason: string };

export interface Attempt {
  /** Unique per delivery: who holds a claim. */
  claimer: string;
  /** Milliseconds left in this invocation. */
  remainingMs: () => number;
}

const FINISHED: Outcome = { finished: true };
/** Kept free in an invocation after the model call, to write its outcome. */
const WRITE_MARGIN_MS = 10_000;
/** A claim outlives the longest invocation, so that only a dead worker's claim can expire. */
const LEASE_MS = 150_000;

/** The delay before try `attempt + 1`: base × 2^(attempt-1), at most 5 minutes, with some jitter. */
export function retryDelaySeconds(attempt: number): number {
  const base = config.jobRetryBaseSeconds() * 2 ** Math.max(0, attempt - 1);
  return Math.min(300, Math.round(base * (0.8 + Math.random() * 0.4)));
}

/**
 * Answers the session's oldest waiting ask (not necessarily the job's own: jobs may arrive out of
 * id order, turns may not). Each ask makes one job and each job answers at most one ask, so every
 * ask is answered, once, in order, each seeing the answers before it.
 */
export async function answerAsk(db: Db, job: AskJob, attempt: Attempt): Promise<Outcome> {
  const { Item: session } = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.session(job.org_id, job.session_id), ConsistentRead: true }),
  );
  if (!session || session.deleting_at) return FINISHED;
  const next = await oldestWaitingAsk(db, job.org_id, job.session_id, session.answered_through as string | undefined);
  if (!next) return FINISHED;
  if (next.status === MESSAGE_LIFECYCLE.processing && Number(next.lease_until) > Date.now()) {
    // Another worker is answering the turn before; come back when its claim would have run out.
    return { finished: false, retryAfterSeconds: Math.min(60, Math.ceil((Number(next.lease_until) - Date.now()) / 1000) + 1), reason: 'an earlier turn is being answered' };
  }
  const key = keys.message(job.org_id, job.session_id, next.message_id as string);
  const claimed = await claim(db, key, MESSAGE_LIFECYCLE, attempt.claimer, LEASE_MS);
  if (!claimed) return { finished: false, retryAfterSeconds: 1, reason: 'the turn was claimed by another worker' };

  const { Item: question } = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.message(job.org_id, job.session_id, claimed.reply_to as string), ConsistentRead: true }),
  );
  const outcome = question
    ? await answer(db, key, MESSAGE_LIFECYCLE, claimed, attempt, {
        orgId: job.org_id,
        sessionId: job.session_id,
        systemPrompt: (session.system_prompt as string | null) ?? config.defaultSystemPrompt(),
        message: question.content as string,
        historyBefore: question.message_id as string,
        failedFields: (sentence) => ({ content: sentence, error: sentence }),
        doneFields: (result) => ({ content: result.content }),
      })
    : await settleFailed(db, key, MESSAGE_LIFECYCLE, claimed, attempt, { content: 'The question was deleted before it was answered.', error: 'The question was deleted before it was answered.' });
  if (outcome.finished) await advanceCursor(db, job.org_id, job.session_id, claimed.message_id as string);
  return outcome;
}

/** Answers one context task. */
export async function answerTask(db: Db, job: TaskJob, attempt: Attempt): Promise<Outcome> {
  const key = keys.task(job.org_id, job.session_id, job.ctx_id);
  const claimed = await claim(db, key, TASK_LIFECYCLE, attempt.claimer, LEASE_MS);
  if (!claimed) {
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }));
    if (!Item || isFinished(Item.status, TASK_LIFECYCLE)) return FINISHED; // gone, or a duplicate delivery
    return { finished: false, retryAfterSeconds: Math.min(60, Math.ceil((Number(Item.lease_until) - Date.now()) / 1000) + 1), reason: 'the task is being answered by another worker' };
  }
  const { Item: session } = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.session(job.org_id, job.session_id), ConsistentRead: true }),
  );
  return answer(db, key, TASK_LIFECYCLE, claimed, attempt, {
    orgId: job.org_id,
    sessionId: job.session_id,
    systemPrompt: (claimed.system_prompt as string | undefined) ?? (session?.system_prompt as string | null | undefined) ?? config.defaultSystemPrompt(),
    message: claimed.task as string,
    historyBefore: job.ctx_id,
    failedFields: (sentence) => ({ error: sentence, result: null }),
    doneFields: (result) => ({ result: result.content, error: null, ...resultJson(result.content) }),
  });
}

/**
 * A job that used up its receives lands in the dead-letter queue; its item is failed here with the
 * last problem seen, unless it finished meanwhile.
 */
export async function failDeadJob(db: Db, job: Job): Promise<void> {
  const [key, states] =
    job.kind === 'ask'
      ? [keys.message(job.org_id, job.session_id, job.message_id), MESSAGE_LIFECYCLE]
      : [keys.task(job.org_id, job.session_id, job.ctx_id), TASK_LIFECYCLE];
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }));
  if (!Item || isFinished(Item.status, states)) return;
  const sentence = `This request could not be answered after several tries${Item.last_error ? ` (last problem: ${String(Item.last_error).replace(/\.$/, '')})` : ''}. Send it again.`;
  const fields = job.kind === 'ask' ? { content: sentence, error: sentence } : { error: sentence, result: null };
  await failUnfinished(db, key, states, { ...fields, completed_at: new Date().toISOString() });
}

interface AnswerSpec {
  orgId: string;
  sessionId: string;
  systemPrompt: string | undefined;
  message: string;
  /** Stored history is read from before this id (the question, or the task). */
  historyBefore: string;
  failedFields: (sentence: string) => Item;
  doneFields: (answer: ModelAnswer) => Item;
}

/** Calls the model for a claimed item and settles it: done, failed, or released for a later try. */
async function answer(db: Db, key: { pk: string; sk: string }, states: Lifecycle, claimed: Item, attempt: Attempt, spec: AnswerSpec): Promise<Outcome> {
  const attempts = Number(claimed.attempts ?? 1);
  const fail = (sentence: string) => settleFailed(db, key, states, claimed, attempt, spec.failedFields(sentence));
  if (attempts > config.jobMaxAttempts()) {
    // Tried before and never settled (its worker died each time): stop here.
    return fail(`This request could not be answered after ${attempts - 1} tries${claimed.last_error ? ` (last problem: ${String(claimed.last_error).replace(/\.$/, '')})` : ''}. Send it again.`);
  }

  let settings: OrgSettings | undefined;
  try {
    settings = await orgSettings(spec.orgId);
  } catch (error) {
    if (error instanceof OrgSettingsInvalid) return fail(error.message);
    throw error;
  }
  if (!settings) return fail(`OpenAI API key not found for organization ${spec.orgId}`);

  const model = (claimed.request_model as string | undefined) ?? settings.model ?? config.defaultModel();
  const history = Array.isArray(claimed.request_history)
    ? (claimed.request_history as ChatMessage[])
    : await storedHistory(db, spec.orgId, spec.sessionId, spec.historyBefore, historyBudget(model, spec.systemPrompt, spec.message));
  const messages = buildPrompt(spec.systemPrompt, history, spec.message);

  const timeoutMs = attempt.remainingMs() - WRITE_MARGIN_MS;
  if (timeoutMs < 5_000) {
    await release(db, key, states, attempt.claimer, 'The worker ran out of time before calling the model.');
    return { finished: false, retryAfterSeconds: 1, reason: 'not enough time left in this invocation' };
  }

  const startedAt = Date.now();
  let result: ModelAnswer;
  try {
    result = await askModel(settings, model, messages, timeoutMs);
  } catch (error) {
    let failure = classifyModelFailure(error, spec.orgId, model);
    if (failure.kind === 'key_refused') {
      // Maybe the key was rotated since it was cached: read it afresh and try once more with it.
      const fresh = await orgSettings(spec.orgId, { fresh: true });
      if (fresh && fresh.apiKey !== settings.apiKey) {
        try {
          result = await askModel(fresh, model, messages, attempt.remainingMs() - WRITE_MARGIN_MS);
          return finish(db, key, states, claimed, attempt, spec, result, startedAt);
        } catch (retryError) {
          failure = classifyModelFailure(retryError, spec.orgId, model);
        }
      }
    }
    logger.warn('model call failed', { kind: failure.kind, attempt: attempts, status: (error as { status?: number }).status });
    if (failure.kind !== 'passing') return fail(failure.sentence);
    if (attempts >= config.jobMaxAttempts()) {
      return fail(`${failure.sentence.replace(/\.$/, '')}, ${attempts} times. Try again later.`);
    }
    await release(db, key, states, attempt.claimer, failure.sentence);
    metrics.addMetric('ModelCallRetried', MetricUnit.Count, 1);
    return { finished: false, retryAfterSeconds: retryDelaySeconds(attempts), reason: failure.sentence };
  }
  return finish(db, key, states, claimed, attempt, spec, result, startedAt);
}

async function finish(
  db: Db,
  key: { pk: string; sk: string },
  states: Lifecycle,
  claimed: Item,
  attempt: Attempt,
  spec: AnswerSpec,
  result: ModelAnswer,
  modelStartedAt: number,
): Promise<Outcome> {
  const now = Date.now();
  const created = Date.parse(String(claimed.created_at));
  const kind = states === MESSAGE_LIFECYCLE ? 'Answer' : 'Task';
  metrics.addMetric(`${kind}Completed`, MetricUnit.Count, 1);
  metrics.addMetric('ModelLatency', MetricUnit.Milliseconds, now - modelStartedAt);
  metrics.addMetric('QueueWait', MetricUnit.Milliseconds, Date.parse(String(claimed.started_at)) - created);
  await settle(db, key, states, attempt.claimer, states.done, {
    ...spec.doneFields(result),
    model: result.model,
    ...(result.usage ? { usage: result.usage } : {}),
    completed_at: new Date(now).toISOString(),
    latency_ms: now - created,
    // The split of that latency: waiting for a worker, and the model itself.
    timings: { queue_ms: Date.parse(String(claimed.started_at)) - created, model_ms: now - modelStartedAt },
  });
  return FINISHED;
}

async function settleFailed(db: Db, key: { pk: string; sk: string }, states: Lifecycle, claimed: Item, attempt: Attempt, fields: Item): Promise<Outcome> {
  const now = Date.now();
  metrics.addMetric(states === MESSAGE_LIFECYCLE ? 'AnswerFailed' : 'TaskFailed', MetricUnit.Count, 1);
  await settle(db, key, states, attempt.claimer, states.failed, {
    ...fields,
    completed_at: new Date(now).toISOString(),
    latency_ms: now - Date.parse(String(claimed.created_at)),
  });
  return FINISHED;
}

/** The session's oldest ask still waiting for an answer, looking only past the answered ones. */
async function oldestWaitingAsk(db: Db, orgId: string, sessionId: string, answeredThrough: string | undefined): Promise<Item | undefined> {
  let startKey: Record<string, unknown> | undefined = answeredThrough ? keys.message(orgId, sessionId, answeredThrough) : undefined;
  do {
    const page: QueryCommandOutput = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
        FilterExpression: '#role = :assistant AND #status IN (:pending, :processing)',
        ExpressionAttributeNames: { '#role': 'role', '#status': 'status' },
        ExpressionAttributeValues: {
          ':pk': keys.sessionPartition(orgId, sessionId),
          ':msg': MESSAGE_SK_PREFIX,
          ':assistant': 'assistant',
          ':pending': MESSAGE_LIFECYCLE.pending,
          ':processing': MESSAGE_LIFECYCLE.processing,
        },
        ExclusiveStartKey: startKey,
        ConsistentRead: true,
      }),
    );
    if (page.Items?.length) return page.Items[0];
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return undefined;
}

/** Marks every ask up to `messageId` as answered, so later jobs start looking after it. */
async function advanceCursor(db: Db, orgId: string, sessionId: string, messageId: string): Promise<void> {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.session(orgId, sessionId),
        UpdateExpression: 'SET answered_through = :id',
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(answered_through) OR answered_through < :id)',
        ExpressionAttributeValues: { ':id': messageId },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** The session's finished messages before `beforeId`, newest first until the budget is spent, oldest first. */
async function storedHistory(db: Db, orgId: string, sessionId: string, beforeId: string, budget: number): Promise<ChatMessage[]> {
  const newestFirst: ChatMessage[] = [];
  let startKey: Record<string, unknown> | undefined = keys.message(orgId, sessionId, beforeId);
  let spent = 0;
  do {
    const page: QueryCommandOutput = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
        FilterExpression: '#status = :completed',
        ProjectionExpression: '#role, content',
        ExpressionAttributeNames: { '#role': 'role', '#status': 'status' },
        ExpressionAttributeValues: { ':pk': keys.sessionPartition(orgId, sessionId), ':msg': MESSAGE_SK_PREFIX, ':completed': MESSAGE_LIFECYCLE.done },
        ExclusiveStartKey: startKey,
        ScanIndexForward: false,
        ConsistentRead: true,
      }),
    );
    for (const item of page.Items ?? []) {
      const turn = { role: item.role as ChatMessage['role'], content: String(item.content ?? '') };
      newestFirst.push(turn);
      spent += Buffer.byteLength(turn.content) / 3;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey && spent <= budget);
  return fitHistory(newestFirst, budget);
}

/** Where a task's answer is JSON (bare, or in a ```json fence), `result_json` holds it parsed. */
export function resultJson(text: string): { result_json?: unknown } {
  const candidates = [text.trim(), /```(?:json)?\s*([\s\S]*?)```/i.exec(text)?.[1]?.trim()];
  for (const candidate of candidates) {
    if (!candidate || !/^[[{]/.test(candidate)) continue;
    try {
      return { result_json: JSON.parse(candidate) };
    } catch {
      // not JSON after all
    }
  }
  return {};
}
