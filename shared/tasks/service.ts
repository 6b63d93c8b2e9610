import type { Principal } from '../auth/principal.js';
import { sqsJobQueue, type JobQueue } from '../jobs/job-queue.js';
import { follow, type FollowedState, type FollowEvent, type ResumePoint } from '../jobs/following.js';
import { readUntilFinished } from '../jobs/waiting.js';
import { failIfOverdue, isFinished, TASK } from '../jobs/work-items.js';
import { env } from '../platform/env.js';
import { AppError, conflict, notFound, undefinedIfNotFound } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { orgRateLimiter, type RateLimiter } from '../rate-limit/org-rate-limit.js';
import { dynamoRateWindowRepository } from '../rate-limit/repository.js';
import { dynamoSessionRepository } from '../sessions/repository.js';
import { sessionAccess, type SessionAccess } from '../sessions/access.js';
import { defaultDb } from '../store/client.js';
import { checkMonthlyBudget } from '../usage/budget.js';
import { orgPolicy } from '../org-policy/policy.js';
import { publishFinished, type PublishFinished } from '../events/publish.js';
import { defaultErasures } from '../erasure/repository.js';
import { dynamoTaskRepository, toTask, type TaskItem, type TaskRepository } from './repository.js';
import type { CreateTaskBody, Task, TaskAccepted } from './schema.js';

export interface TaskServiceDeps {
  tasks: TaskRepository;
  /** Who may use which session (the sessions' own rules). */
  access: Pick<SessionAccess, 'load' | 'loadOpen' | 'authorizeItem' | 'admit' | 'expiryOf'>;
  /** Sends the event of a task a cancel settled; only the cancel route's wiring has it (it carries a queue client). */
  publish?: PublishFinished;
}

export interface TaskStartServiceDeps extends TaskServiceDeps {
  queue: JobQueue;
  rateLimit: RateLimiter;
  /** Refuses new work once the organization's monthly token budget is spent; without it, none is checked. */
  checkBudget?: (orgId: string) => Promise<void>;
}

/**
 * Starting a one-shot task in a session (what the URLs call ctx). Apart from reading one, so that
 * the read route carries no queue client.
 */
export function taskStartService({ tasks, access, queue, rateLimit, checkBudget }: TaskStartServiceDeps) {
  return {
    /**
     * Starts a task: stored as `pending` and queued. As with asks, a task that cannot be queued is
     * removed again and the caller gets a retryable 503, unless a worker has claimed it already
     * (the failed send did reach the queue): then it is accepted.
     */
    async create(principal: Principal, sessionId: string, body: CreateTaskBody): Promise<TaskAccepted> {
      await access.loadOpen(principal, sessionId);
      await rateLimit(principal.orgId, env.orgRateLimitPerMinute());
      await checkBudget?.(principal.orgId);
      const taskId = newId();
      const now = new Date().toISOString();
      const expires = await access.expiryOf(principal.orgId, now);
      await tasks.put(principal.orgId, {
        ...(expires ? { expires_at: expires } : {}),
        ctx_id: taskId,
        session_id: sessionId,
        user_id: principal.userId,
        status: 'pending',
        task: body.task,
        created_at: now,
        ...(body.history !== undefined ? { request_history: body.history } : {}),
        ...(body.system_prompt !== undefined && body.system_prompt !== null ? { system_prompt: body.system_prompt } : {}),
        ...(body.model !== undefined ? { request_model: body.model } : {}),
      });
      await access.admit(principal, sessionId, now, 0, () => tasks.delete(principal.orgId, sessionId, taskId));
      try {
        await queue.enqueue({ kind: 'ctx', org_id: principal.orgId, session_id: sessionId, ctx_id: taskId, enqueued_at: now });
        addMetric('JobQueued', MetricUnit.Count, 1);
      } catch (error) {
        if (!(await tasks.withdrawUnclaimed(principal.orgId, sessionId, taskId))) {
          logger.warn('a task whose send failed was queued all the same', { session_id: sessionId, ctx_id: taskId, error: (error as Error).name });
          return { ctx_id: taskId, status: 'pending' };
        }
        addMetric('QueueUnavailable', MetricUnit.Count, 1);
        logger.error('could not queue a task', { session_id: sessionId, ctx_id: taskId, error: (error as Error).name });
        throw new AppError('unavailable', 'queue_unavailable', 'The task could not be queued just now and was not saved. Send it again in a few seconds.', {
          retryAfterSeconds: 5,
        });
      }
      return { ctx_id: taskId, status: 'pending' };
    },
  };
}

export type TaskStartService = ReturnType<typeof taskStartService>;

/** Reading a task: scoped to the caller, failed when read past the deadline. */
export function taskService({ tasks, access, publish }: TaskServiceDeps) {
  return {
    /** Follows a task as it is answered (a stream), as an answer is followed (see the message service). */
    async follow(principal: Principal, sessionId: string, taskId: string, after: ResumePoint): Promise<AsyncIterable<FollowEvent>> {
      let next: Task | undefined = await this.get(principal, sessionId, taskId);
      const read = async (): Promise<FollowedState | undefined> => {
        const task = next ?? (await this.get(principal, sessionId, taskId).catch(undefinedIfNotFound));
        next = undefined;
        return task && { text: task.result ?? '', finished: isFinished(task.status, TASK.lifecycle), view: task };
      };
      return follow(read, { after });
    },

    /** Cancels a task of the caller's own session, as an answer is cancelled (see the message service). */
    async cancel(principal: Principal, sessionId: string, taskId: string): Promise<Task> {
      await access.load(principal, sessionId, 'write');
      // A task past its retention is gone, though the table may still hold it.
      if (!(await tasks.get(principal.orgId, sessionId, taskId))) throw notFound('Context task');
      const cancelled = await tasks.cancel(principal.orgId, sessionId, taskId);
      if (cancelled.outcome === 'gone') throw notFound('Context task');
      if (cancelled.outcome === 'finished') {
        throw conflict(`This task has already finished (${cancelled.item.status}); there is nothing to cancel.`, 'already_finished');
      }
      if (cancelled.now) await publish?.(principal.orgId, { task: cancelled.item as unknown as TaskItem });
      return toTask(cancelled.item as unknown as TaskItem);
    },


    /** One task of a session the caller may read (one GetItem: the owner is on the task); failed when read past the deadline. */
    async get(principal: Principal, sessionId: string, taskId: string, waitSeconds?: number): Promise<Task> {
      // With `wait`: the item is read again until it has finished; only the one answered is given its result so far.
      const read = async (): Promise<TaskItem> => {
        const item = await tasks.get(principal.orgId, sessionId, taskId);
        if (!item) throw notFound('Context task');
        await access.authorizeItem(principal, sessionId, item, 'Context task');
        return failIfOverdue(item, TASK, env.jobDeadlineMinutes(), (fields) => tasks.failUnfinished(item, fields));
      };
      const current = await readUntilFinished(read, (task) => isFinished(task.status, TASK.lifecycle), waitSeconds);
      if (current.status !== TASK.lifecycle.processing) return toTask(current);
      // Being answered: its result so far.
      return { ...toTask(current), result: (await tasks.textSoFar(principal.orgId, sessionId, taskId)) ?? null };
    },
  };
}

export type TaskService = ReturnType<typeof taskService>;

/** The repository and session rules on this process's table (TABLE_NAME). */
function tableDeps(): TaskServiceDeps {
  const db = defaultDb();
  return { tasks: dynamoTaskRepository(db), access: sessionAccess({ sessions: dynamoSessionRepository(db), policy: orgPolicy, erasedAt: defaultErasures() }) };
}

let reading: TaskService | undefined;
let starting: TaskStartService | undefined;

/** The task service on this process's table, made on first use. */
export function defaultTaskService(): TaskService {
  reading ??= taskService(tableDeps());
  return reading;
}

let cancelling: TaskService | undefined;
/** The task service of the cancel route: it also sends the event of the task it cancels. */
export function defaultTaskCancelService(): TaskService {
  cancelling ??= taskService({ ...tableDeps(), publish: publishFinished });
  return cancelling;
}

/** The task start service on this process's table and queues, made on first use. */
export function defaultTaskStartService(): TaskStartService {
  starting ??= taskStartService({
    ...tableDeps(),
    queue: sqsJobQueue,
    rateLimit: orgRateLimiter(dynamoRateWindowRepository(defaultDb())),
    checkBudget: checkMonthlyBudget,
  });
  return starting;
}
