import { isOrgAdmin, type Principal } from '../auth/principal.js';
import { removeUserIdempotencyRecords } from '../idempotency/records.js';
import { sendToQueue } from '../jobs/job-queue.js';
import { AppError, forbidden } from '../platform/errors.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { dynamoSessionRepository, type SessionRepository } from '../sessions/repository.js';
import { defaultDb, isConditionFailure, type Db } from '../store/client.js';
import { dynamoUsageRepository } from '../usage/repository.js';
import { holdsDataOf, recordErasure, sessionsOfUser, wasErased } from './repository.js';
import type { ErasureAccepted, ErasureJob } from './schema.js';

/** The time the request itself erases for, within its route's timeout; a queued pass does the rest. */
export const REQUEST_BUDGET_MS = 15_000;
/** The time a queued pass erases for, within the worker's 60 s timeout. */
export const PASS_BUDGET_MS = 40_000;
/**
 * The pass the request queues first runs this long after it (a pass that erased anything queues one
 * more as long after it): the owner index has shown every session started before the request by
 * then, and answers that were finishing have settled (or found nothing).
 */
export const FOLLOW_UP_SECONDS = 30;

/** Sessions marked, and swept, side by side. */
const MARK_CONCURRENCY = 16;
const SWEEP_CONCURRENCY = 4;

export interface ErasureDeps {
  /** A page of the user's sessions (erasure/repository.ts). */
  sessionsOfUser(orgId: string, userId: string, cursor?: Record<string, unknown>): ReturnType<typeof sessionsOfUser>;
  sessions: Pick<SessionRepository, 'markDeleting' | 'deleteWithItems'>;
  /** Removes the user's rows of the usage counters (the organization's totals stay); returns how many. */
  removeUsage(orgId: string, userId: string): Promise<number>;
  /** Removes the user's idempotency records made before the erasure (the responses they were given); returns how many. */
  removeIdempotency(orgId: string, userId: string, before: string): Promise<number>;
  /** Whether the organization holds anything of the user's: a session, an idempotency record, a usage row. */
  holdsDataOf(orgId: string, userId: string): Promise<boolean>;
  /** Keeps the record of an erasure, and tells whether there is one (erasure/repository.ts). */
  recordErasure(orgId: string, userId: string, requestedAt: string, requestedBy: string): Promise<void>;
  wasErased(orgId: string, userId: string): Promise<boolean>;
  /** Puts a pass on the erasure queue. */
  queuePass(job: ErasureJob, delaySeconds: number): Promise<void>;
  /** Milliseconds now (tests move it). */
  now?: () => number;
}

/** What one pass did: whether it found anything of the user's, whether everything was erased, and how much. */
export interface PassResult {
  found: boolean;
  finished: boolean;
  sessions: number;
  usageRows: number;
  idempotencyRecords: number;
}

/** Runs `work` over `items`, `concurrency` at a time, while `more()` holds; returns how many ran. */
async function eachWhile<T>(items: T[], concurrency: number, more: () => boolean, work: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  let done = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && more()) {
      await work(items[next++]!);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return done;
}

/**
 * Erasure of a user's data in an organization (DELETE /openai/users/{user_id}/data): their sessions
 * with every message, task and progress item, their idempotency records and their usage rows (the
 * organization's totals stay). The request queues a pass first (it finishes whatever the request
 * leaves, even if the request is cut off), records the erasure (from then on the item routes hide
 * the user's items: erasure/repository.ts `cachedErasures`), marks every session as being deleted
 * (no route shows it or writes into it), removes the usage rows and idempotency records, then sweeps
 * the sessions within a time budget. The first pass that erased anything queues a last one, a little
 * later, for what arrived late (a last pass queues none, or a user active again would be erased for ever).
 */
export function erasureService(deps: ErasureDeps) {
  const now = deps.now ?? Date.now;

  /** One pass: everything of the user's, or as much as the time until `deadlineMs` allows. */
  async function erase(orgId: string, userId: string, requestedAt: string, deadlineMs: number): Promise<PassResult> {
    const inTime = () => now() < deadlineMs;
    const ids: string[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await deps.sessionsOfUser(orgId, userId, cursor);
      // A session started after the request is not the erasure's.
      ids.push(...page.sessions.filter((session) => session.session_start <= requestedAt).map((session) => session.session_id));
      cursor = page.next;
    } while (cursor && inTime());
    // Every session first: none of them is shown or written into from here on.
    const marked = await eachWhile(ids, MARK_CONCURRENCY, inTime, (sessionId) =>
      deps.sessions.markDeleting(orgId, sessionId, requestedAt).catch((error: unknown) => {
        // Gone already.
        if (!isConditionFailure(error)) throw error;
      }),
    );
    if (cursor || marked < ids.length) return { found: true, finished: false, sessions: 0, usageRows: 0, idempotencyRecords: 0 };
    const [usageRows, idempotencyRecords] = await Promise.all([deps.removeUsage(orgId, userId), deps.removeIdempotency(orgId, userId, requestedAt)]);
    const swept = await eachWhile(ids, SWEEP_CONCURRENCY, inTime, (sessionId) => deps.sessions.deleteWithItems(orgId, sessionId));
    const finished = swept === ids.length;
    // An answer that settled in a session before it was swept counted its usage meanwhile.
    const lateRows = finished && swept > 0 ? await deps.removeUsage(orgId, userId) : 0;
    return { found: ids.length + usageRows + idempotencyRecords > 0, finished, sessions: swept, usageRows: usageRows + lateRows, idempotencyRecords };
  }

  /** Queues the pass after this one: the rest at once; after a pass that erased anything, a last one a little later. */
  async function queueNext(job: ErasureJob, result: PassResult): Promise<void> {
    if (!result.finished) await deps.queuePass({ ...job, follow_up: false }, 0);
    else if (!job.follow_up && result.found) await deps.queuePass({ ...job, follow_up: true }, FOLLOW_UP_SECONDS);
  }

  const ids = (job: ErasureJob) => ({ org_id: job.org_id, user_id: job.user_id });

  return {
    /**
     * Erases a user's data, as the caller may: oneself (`me`, or one's own id), or any member of the
     * organization for its admins. An admin naming a user of whom the organization holds nothing, and
     * never erased, gets 404 (another organization's user is one); asking again after an erasure
     * answers as the first time. When it answers, nothing of the user's is returned by any route.
     * @example await erasure.request(principal, 'me');
     */
    async request(principal: Principal, userParam: string): Promise<ErasureAccepted> {
      const userId = userParam === 'me' ? principal.userId : userParam;
      const byAdmin = userId !== principal.userId;
      if (byAdmin && !isOrgAdmin(principal)) {
        throw forbidden("Only the organization's admins may erase another member's data; use me to erase your own.", 'admin_only');
      }
      if (byAdmin && !(await deps.wasErased(principal.orgId, userId)) && !(await deps.holdsDataOf(principal.orgId, userId))) {
        throw new AppError('not_found', 'not_found', 'User not found: this organization holds no data of that user.');
      }
      const job: ErasureJob = { kind: 'erasure', org_id: principal.orgId, user_id: userId, requested_at: new Date(now()).toISOString(), requested_by: principal.userId, follow_up: false };
      // First a pass that finishes whatever this request leaves, even if it is cut off.
      try {
        await deps.queuePass(job, FOLLOW_UP_SECONDS);
      } catch (error) {
        addMetric('QueueUnavailable', MetricUnit.Count, 1);
        logger.error('could not queue an erasure pass', { error: (error as Error).name });
        throw new AppError('unavailable', 'queue_unavailable', 'The erasure could not be started just now; nothing was erased. Send the request again in a few seconds.', {
          retryAfterSeconds: 5,
        });
      }
      await deps.recordErasure(job.org_id, userId, job.requested_at, principal.userId);
      const result = await erase(job.org_id, userId, job.requested_at, now() + REQUEST_BUDGET_MS);
      logger.info('erasure requested', { ...ids(job), by_admin: byAdmin, finished: result.finished, sessions: result.sessions, usage_rows: result.usageRows, idempotency_records: result.idempotencyRecords });
      // The rest at once rather than in 30 s (that pass comes too).
      if (!result.finished) await deps.queuePass(job, 0).catch((error: Error) => logger.warn('could not queue the rest of an erasure at once', { ...ids(job), error: error.name }));
      return { status: 'accepted' };
    },

    /** A queued pass (the erasure worker): erases what is left, then queues the pass after it, if any. */
    async pass(job: ErasureJob, budgetMs = PASS_BUDGET_MS): Promise<PassResult> {
      // The request may have been cut off before it recorded the erasure.
      if (!(await deps.wasErased(job.org_id, job.user_id))) await deps.recordErasure(job.org_id, job.user_id, job.requested_at, job.requested_by ?? job.user_id);
      const result = await erase(job.org_id, job.user_id, job.requested_at, now() + budgetMs);
      logger.info('erasure pass', { ...ids(job), follow_up: job.follow_up, finished: result.finished, sessions: result.sessions, usage_rows: result.usageRows, idempotency_records: result.idempotencyRecords });
      await queueNext(job, result);
      return result;
    },
  };
}

export type ErasureService = ReturnType<typeof erasureService>;

let wired: ErasureService | undefined;

/**
 * What an erasure needs of a table and the erasure queue: its repositories and its queue.
 * @example erasureService({ ...erasureDeps(db), queuePass: async (job) => void passes.push(job) })
 */
export function erasureDeps(db: Db): ErasureDeps {
  const usage = dynamoUsageRepository(db);
  return {
    sessionsOfUser: (orgId, userId, cursor) => sessionsOfUser(db, orgId, userId, cursor),
    sessions: dynamoSessionRepository(db),
    removeUsage: (orgId, userId) => usage.removeUser(orgId, userId),
    removeIdempotency: (orgId, userId, before) => removeUserIdempotencyRecords(db, orgId, userId, before),
    holdsDataOf: (orgId, userId) => holdsDataOf(db, orgId, userId),
    recordErasure: (orgId, userId, requestedAt, requestedBy) => recordErasure(db, orgId, userId, requestedAt, requestedBy),
    wasErased: (orgId, userId) => wasErased(db, orgId, userId),
    queuePass: (job, delaySeconds) => sendToQueue('erasure', JSON.stringify(job), { delaySeconds }),
  };
}

/** The erasure on this process's table (TABLE_NAME) and erasure queue (ERASURE_QUEUE_URL). */
export function defaultErasureService(): ErasureService {
  return (wired ??= erasureService(erasureDeps(defaultDb())));
}
