/**
 * Small in-memory stand-ins for the repositories, the job queue and the rate limiter, so the
 * services' rules run in unit tests without a store. They keep the repositories' contracts (the
 * conditions a write checks, the order of a page) and nothing of DynamoDB's.
 */
import type { Job } from '../../shared/jobs/job-schema.js';
import type { JobQueue } from '../../shared/jobs/job-queue.js';
import type { CancelOutcome } from '../../shared/jobs/cancel.js';
import type { ClaimedItem } from '../../shared/jobs/claims.js';
import { ANSWER, isFinished, MESSAGE_LIFECYCLE, TASK, TASK_LIFECYCLE, type WorkItemState, type WorkKind } from '../../shared/jobs/work-items.js';
import { toMessageItem, type MessageItem, type MessageRepository } from '../../shared/messages/repository.js';
import { AppError } from '../../shared/platform/errors.js';
import type { RateLimiter } from '../../shared/rate-limit/org-rate-limit.js';
import { toSession, type SessionItem, type SessionRepository } from '../../shared/sessions/repository.js';
import type { Session } from '../../shared/sessions/schema.js';
import { keys } from '../../shared/store/keys.js';
import type { Page } from '../../shared/store/paging.js';
import type { TaskItem, TaskRepository } from '../../shared/tasks/repository.js';

const pageOf = <T>(sorted: T[], limit: number, idOf: (item: T) => string, after?: string): Page<T> => {
  const start = after === undefined ? 0 : sorted.findIndex((item) => idOf(item) === after) + 1;
  const items = sorted.slice(start, start + limit);
  const hasMore = start + limit < sorted.length;
  return { items, has_more: hasMore, next: hasMore ? idOf(items.at(-1)!) : null };
};

export class FakeSessions implements SessionRepository {
  readonly items = new Map<string, SessionItem>();
  private id = (orgId: string, sessionId: string) => `${orgId}/${sessionId}`;

  async get(orgId: string, sessionId: string) {
    const item = this.items.get(this.id(orgId, sessionId));
    return item && structuredClone(item);
  }
  async create(session: Session) {
    const { session_end: _open, last_message: _none, ...stored } = session;
    if (this.items.has(this.id(session.org_id, session.session_id))) throw new Error('ConditionalCheckFailedException');
    this.items.set(this.id(session.org_id, session.session_id), {
      ...keys.session(session.org_id, session.session_id),
      ...keys.sessionOwner(session.org_id, session.user_id, session.session_id),
      entity: 'session',
      ...stored,
    } as SessionItem);
  }
  async update(orgId: string, sessionId: string, ownerId: string, patch: { name?: string; system_prompt?: string | null; endAt?: string }) {
    const item = this.items.get(this.id(orgId, sessionId));
    if (!item || item.deleting_at || item.user_id !== ownerId) return undefined;
    if (patch.name !== undefined) item.name = patch.name;
    if (patch.system_prompt !== undefined) item.system_prompt = patch.system_prompt;
    if (patch.endAt !== undefined) {
      if (!item.session_end && item.last_write_at && item.last_write_at > patch.endAt) return 'raced' as const;
      item.session_end ??= patch.endAt;
    }
    return toSession(item);
  }
  async listByOwner(orgId: string, userId: string, page: { limit: number; after?: string }) {
    const mine = [...this.items.values()]
      .filter((item) => item.org_id === orgId && item.user_id === userId && !item.deleting_at)
      .sort((a, b) => b.session_id.localeCompare(a.session_id));
    return pageOf(mine, page.limit, (session) => session.session_id, page.after);
  }
  async markDeleting(orgId: string, sessionId: string, at: string) {
    const item = this.items.get(this.id(orgId, sessionId));
    if (!item) throw new Error('ConditionalCheckFailedException');
    item.deleting_at ??= at;
  }
  /** Set to also remove a session's messages, as the table's one partition does. */
  onDelete?: (orgId: string, sessionId: string) => void;
  async deleteWithItems(orgId: string, sessionId: string) {
    this.onDelete?.(orgId, sessionId);
    this.items.delete(this.id(orgId, sessionId));
  }
  async admitWrite(orgId: string, sessionId: string, ownerId: string, at: string, messages: number, lastMessageId?: string, expiresAt?: number) {
    const item = this.items.get(this.id(orgId, sessionId));
    if (!item || item.deleting_at) return 'gone' as const;
    if (item.user_id !== ownerId) return 'not_owner' as const;
    if (item.session_end) return 'ended' as const;
    if (!item.last_write_at || item.last_write_at <= at) {
      item.last_write_at = at;
      if (lastMessageId) item.last_message_id = lastMessageId;
      if (expiresAt) item.expires_at = expiresAt;
    }
    item.message_count = (item.message_count ?? 0) + messages;
    return 'admitted' as const;
  }
  async addMessageCount(orgId: string, sessionId: string, delta: number) {
    const item = this.items.get(this.id(orgId, sessionId));
    if (item && !item.deleting_at) item.message_count = (item.message_count ?? 0) + delta;
  }
  async advanceAnsweredThrough(orgId: string, sessionId: string, messageId: string) {
    const item = this.items.get(this.id(orgId, sessionId));
    if (item && !(item.answered_through && item.answered_through >= messageId)) item.answered_through = messageId;
  }
}

export class FakeMessages implements MessageRepository {
  readonly items = new Map<string, MessageItem>();
  private id = (orgId: string, sessionId: string, messageId: string) => `${orgId}/${sessionId}/${messageId}`;
  private of = (orgId: string, sessionId: string) =>
    [...this.items.entries()].filter(([id]) => id.startsWith(`${orgId}/${sessionId}/`)).map(([, item]) => item).sort((a, b) => a.message_id.localeCompare(b.message_id));

  async get(orgId: string, sessionId: string, messageId: string) {
    const item = this.items.get(this.id(orgId, sessionId, messageId));
    return item && structuredClone(item);
  }
  async getMany(orgId: string, ids: Array<{ sessionId: string; messageId: string }>) {
    return ids.flatMap(({ sessionId, messageId }) => {
      const item = this.items.get(this.id(orgId, sessionId, messageId));
      return item ? [structuredClone(item)] : [];
    });
  }
  async put(orgId: string, message: Parameters<MessageRepository['put']>[1]) {
    const item = toMessageItem(orgId, message);
    this.items.set(this.id(orgId, message.session_id, message.message_id), item);
    return item;
  }
  async putAll(orgId: string, messages: Parameters<MessageRepository['putAll']>[1]) {
    for (const message of messages) await this.put(orgId, message);
  }
  async deleteAll(orgId: string, sessionId: string, messageIds: string[]) {
    for (const messageId of messageIds) this.items.delete(this.id(orgId, sessionId, messageId));
  }
  async delete(orgId: string, sessionId: string, messageId: string) {
    const item = this.items.get(this.id(orgId, sessionId, messageId));
    this.items.delete(this.id(orgId, sessionId, messageId));
    return item;
  }
  async page(orgId: string, sessionId: string, page: { limit: number; order: 'asc' | 'desc'; after?: string }) {
    const sorted = this.of(orgId, sessionId);
    if (page.order === 'desc') sorted.reverse();
    return pageOf(sorted, page.limit, (item) => item.message_id, page.after);
  }
  async last(orgId: string, sessionId: string) {
    return this.of(orgId, sessionId).at(-1);
  }
  async finishedTurnsBefore(orgId: string, sessionId: string, beforeId: string) {
    return this.of(orgId, sessionId)
      .filter((item) => item.message_id < beforeId && item.status === MESSAGE_LIFECYCLE.done)
      .reverse()
      .map((item) => ({ role: item.role, content: item.content }));
  }
  async failUnfinished(item: MessageItem, fields: Record<string, unknown>) {
    const stored = this.items.get(this.id(item.pk.split('#')[1]!, item.session_id, item.message_id));
    if (!stored || isFinished(stored.status, MESSAGE_LIFECYCLE)) return undefined;
    Object.assign(stored, fields, { status: MESSAGE_LIFECYCLE.failed });
    return structuredClone(stored);
  }
  /** Text generated so far, by `org/session/message` (what a worker's progress writes would hold). */
  readonly live = new Map<string, string>();
  async cancel(orgId: string, sessionId: string, messageId: string) {
    return cancelIn(this.items.get(this.id(orgId, sessionId, messageId)), ANSWER, this.live.get(this.id(orgId, sessionId, messageId)));
  }
  async textSoFar(orgId: string, sessionId: string, messageId: string) {
    return this.live.get(this.id(orgId, sessionId, messageId));
  }
  async withdrawUnclaimed(orgId: string, sessionId: string, messageId: string) {
    const stored = this.items.get(this.id(orgId, sessionId, messageId));
    if (!stored || stored.status !== MESSAGE_LIFECYCLE.pending || stored.attempts !== undefined) return false;
    return this.items.delete(this.id(orgId, sessionId, messageId));
  }
}

export class FakeTasks implements TaskRepository {
  readonly items = new Map<string, TaskItem>();
  private id = (orgId: string, sessionId: string, taskId: string) => `${orgId}/${sessionId}/${taskId}`;

  async get(orgId: string, sessionId: string, taskId: string) {
    const item = this.items.get(this.id(orgId, sessionId, taskId));
    return item && structuredClone(item);
  }
  async put(orgId: string, task: Parameters<TaskRepository['put']>[1]) {
    const item: TaskItem = { ...keys.task(orgId, task.session_id, task.ctx_id), entity: 'task', ...task };
    this.items.set(this.id(orgId, task.session_id, task.ctx_id), item);
    return item;
  }
  async delete(orgId: string, sessionId: string, taskId: string) {
    this.items.delete(this.id(orgId, sessionId, taskId));
  }
  async failUnfinished(item: TaskItem, fields: Record<string, unknown>) {
    const stored = this.items.get(this.id(item.pk.split('#')[1]!, item.session_id, item.ctx_id));
    if (!stored || isFinished(stored.status, TASK_LIFECYCLE)) return undefined;
    Object.assign(stored, fields, { status: TASK_LIFECYCLE.failed });
    return structuredClone(stored);
  }
  readonly live = new Map<string, string>();
  async cancel(orgId: string, sessionId: string, taskId: string) {
    return cancelIn(this.items.get(this.id(orgId, sessionId, taskId)), TASK, this.live.get(this.id(orgId, sessionId, taskId)));
  }
  async textSoFar(orgId: string, sessionId: string, taskId: string) {
    return this.live.get(this.id(orgId, sessionId, taskId));
  }
  async withdrawUnclaimed(orgId: string, sessionId: string, taskId: string) {
    const stored = this.items.get(this.id(orgId, sessionId, taskId));
    if (!stored || stored.status !== TASK_LIFECYCLE.pending || stored.attempts !== undefined) return false;
    return this.items.delete(this.id(orgId, sessionId, taskId));
  }
}

/** The cancel rules of `cancelWork`, on an item in memory. */
function cancelIn(item: WorkItemState | undefined, kind: WorkKind, textSoFar = ''): CancelOutcome {
  if (!item) return { outcome: 'gone' };
  const states = kind.lifecycle;
  if (item.status === states.pending || item.status === states.processing) {
    Object.assign(item, kind.cancelledFields(item.status === states.pending ? '' : textSoFar), { status: states.cancelled });
    return { outcome: 'cancelled', item: structuredClone(item) as unknown as ClaimedItem };
  }
  return { outcome: item.status === states.cancelled ? 'cancelled' : 'finished', item: structuredClone(item) as unknown as ClaimedItem };
}

/**
 * A job queue that keeps what it is given, or refuses everything while `down`. With `lostAnswer`
 * set it keeps the job, runs `lostAnswer` (what a worker does meanwhile), then reports a failure:
 * a send that took effect though its answer was lost.
 */
export class FakeQueue implements JobQueue {
  readonly jobs: Job[] = [];
  down = false;
  lostAnswer?: (job: Job) => Promise<void>;
  async enqueue(job: Job) {
    if (this.down) throw Object.assign(new Error('queue down'), { name: 'QueueDoesNotExist' });
    this.jobs.push(job);
    if (this.lostAnswer) {
      await this.lostAnswer(job);
      throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    }
  }
}

/** A rate limiter that lets `allowed` starts through per org, then refuses as the real one does. */
export function fakeRateLimiter(allowed = Infinity): RateLimiter & { taken: Map<string, number> } {
  const taken = new Map<string, number>();
  const limiter = async (orgId: string) => {
    const count = (taken.get(orgId) ?? 0) + 1;
    if (count > allowed) throw new AppError('rate_limited', 'rate_limited', 'Rate limited.', { retryAfterSeconds: 10 });
    taken.set(orgId, count);
  };
  return Object.assign(limiter, { taken });
}
