import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { failUnfinished, withdrawUnclaimed, type WorkItemFields } from '../jobs/claims.js';
import { cancelWork, type CancelOutcome } from '../jobs/cancel.js';
import { readProgress } from '../jobs/progress.js';
import { TASK, TASK_LIFECYCLE, type WorkItemState } from '../jobs/work-items.js';
import type { History } from '../messages/schema.js';
import type { Db } from '../store/client.js';
import { unexpired } from '../store/expiry.js';
import { keys } from '../store/keys.js';
import type { Task, TaskStatus } from './schema.js';

/** A task as stored: the request, its owner, the worker's state and the outcome. */
export interface TaskItem extends Omit<Task, 'status' | 'result' | 'error'>, WorkItemState {
  pk: string;
  sk: string;
  entity: 'task';
  status: TaskStatus;
  /** The session's owner, so that a poll is one read (items stored before it have none). */
  user_id?: string;
  /** What to do: the task's text. */
  task: string;
  system_prompt?: string;
  request_history?: History;
  request_model?: string;
  result?: string | null;
  error?: string | null;
  timings?: { queue_ms: number; model_ms: number };
  /** When its organization keeps data for a time: its creation and that time (epoch seconds, the table's TTL). */
  expires_at?: number;
}

/** A task to store: the repository adds its keys. */
export type NewTask = Omit<TaskItem, 'pk' | 'sk' | 'entity'>;

/** The task items' data access; the rules are in ./service.ts. */
export interface TaskRepository {
  get(orgId: string, sessionId: string, taskId: string): Promise<TaskItem | undefined>;
  put(orgId: string, task: NewTask): Promise<TaskItem>;
  delete(orgId: string, sessionId: string, taskId: string): Promise<void>;
  /** Fails a task that has not finished; undefined when it had (or is gone). */
  failUnfinished(item: TaskItem, fields: WorkItemFields): Promise<TaskItem | undefined>;
  /** Removes a pending task no worker has claimed; false when one had (see `withdrawUnclaimed`). */
  withdrawUnclaimed(orgId: string, sessionId: string, taskId: string): Promise<boolean>;
  /** Cancels a task (see `cancelWork`). */
  cancel(orgId: string, sessionId: string, taskId: string): Promise<CancelOutcome>;
  /** The text generated so far of a task being answered (jobs/progress.ts); undefined before any. */
  textSoFar(orgId: string, sessionId: string, taskId: string): Promise<string | undefined>;
}

/** A stored task as the API shows it. */
export function toTask(item: TaskItem): Task {
  const task: Task = {
    ctx_id: item.ctx_id,
    session_id: item.session_id,
    status: item.status,
    result: item.result ?? null,
    error: item.error ?? null,
    created_at: item.created_at,
  };
  for (const field of ['result_json', 'model', 'usage', 'completed_at', 'latency_ms', 'timings'] as const) {
    if (item[field] !== undefined && item[field] !== null) (task as Record<string, unknown>)[field] = item[field];
  }
  return task;
}

/** The task repository on the single table. */
export function dynamoTaskRepository(db: Db): TaskRepository {
  return {
    async get(orgId, sessionId, taskId) {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.task(orgId, sessionId, taskId), ConsistentRead: true }));
      return unexpired(Item as TaskItem | undefined);
    },

    async put(orgId, task) {
      const item: TaskItem = { ...keys.task(orgId, task.session_id, task.ctx_id), entity: 'task', ...task };
      await db.doc.send(new PutCommand({ TableName: db.table, Item: item }));
      return item;
    },

    async delete(orgId, sessionId, taskId) {
      await db.doc.send(new DeleteCommand({ TableName: db.table, Key: keys.task(orgId, sessionId, taskId) }));
    },

    async failUnfinished(item, fields) {
      return (await failUnfinished(db, { pk: item.pk, sk: item.sk }, TASK_LIFECYCLE, fields)) as TaskItem | undefined;
    },

    withdrawUnclaimed: (orgId, sessionId, taskId) => withdrawUnclaimed(db, keys.task(orgId, sessionId, taskId), TASK_LIFECYCLE),

    cancel: (orgId, sessionId, taskId) => cancelWork(db, TASK, keys.task(orgId, sessionId, taskId), { orgId, sessionId, itemId: taskId }),

    textSoFar: async (orgId, sessionId, taskId) => (await readProgress(db, { orgId, sessionId, itemId: taskId }))?.text,
  };
}
