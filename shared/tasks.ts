import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from './auth/principal.js';
import { config } from './config.js';
import { AppError } from './errors.js';
import { newId } from './ids.js';
import { failIfOverdue, TASK_LIFECYCLE } from './jobs/lifecycle.js';
import { enqueueJob } from './jobs/queue.js';
import { logger } from './logger.js';
import { metrics, MetricUnit } from './observability.js';
import { loadOpenSession } from './messages.js';
import { takeOrgRateToken } from './rate-limit.js';
import type { CreateTaskBody, Task } from './schemas/messages.js';
import { loadSessionItem } from './sessions.js';
import { batchWrite, deleteRequest } from './store/batch.js';
import type { Db } from './store/db.js';
import { keys } from './store/keys.js';
import { toTask } from './views.js';

/**
 * Starts a one-shot context task in a session: stored as `pending` and queued. As with asks, a task
 * that cannot be queued is removed again and the caller gets a retryable 503.
 */
export async function createTask(db: Db, principal: Principal, sessionId: string, body: CreateTaskBody): Promise<{ ctx_id: string; status: 'pending' }> {
  await loadOpenSession(db, principal, sessionId);
  await takeOrgRateToken(db, principal.orgId, config.orgRateLimitPerMinute());
  const taskId = newId();
  const now = new Date().toISOString();
  const key = keys.task(principal.orgId, sessionId, taskId);
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: {
        ...key,
        entity: 'task',
        ctx_id: taskId,
        session_id: sessionId,
        user_id: principal.userId,
        status: 'pending',
        task: body.task,
        created_at: now,
        ...(body.history !== undefined ? { request_history: body.history } : {}),
        ...(body.system_prompt !== undefined && body.system_prompt !== null ? { system_prompt: body.system_prompt } : {}),
        ...(body.model !== undefined ? { request_model: body.model } : {}),
      },
    }),
  );
  try {
    await enqueueJob({ kind: 'ctx', org_id: principal.orgId, session_id: sessionId, ctx_id: taskId, enqueued_at: now });
  } catch (error) {
    metrics.addMetric('QueueUnavailable', MetricUnit.Count, 1);
    logger.error('could not queue a task', { session_id: sessionId, ctx_id: taskId, error: (error as Error).name });
    await batchWrite(db, [deleteRequest(key)]);
    throw new AppError('unavailable', 'queue_unavailable', 'The task could not be queued just now and was not saved. Send it again in a few seconds.', {
      retryAfterSeconds: 5,
    });
  }
  return { ctx_id: taskId, status: 'pending' };
}

/** One context task of a session the caller may read. */
export async function getTask(db: Db, principal: Principal, sessionId: string, taskId: string): Promise<Task> {
  const stored = await loadSessionItem(db, principal, sessionId, keys.task(principal.orgId, sessionId, taskId), 'Context task');
  const item = await failIfOverdue(db, stored, TASK_LIFECYCLE, config.jobDeadlineMinutes(), (sentence) => ({ error: sentence, result: null }));
  return toTask(item);
}
