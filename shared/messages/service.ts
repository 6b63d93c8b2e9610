import type { Principal } from '../auth/principal.js';
import { sqsJobQueue, type JobQueue } from '../jobs/job-queue.js';
import { follow, type FollowedState, type FollowEvent, type ResumePoint } from '../jobs/following.js';
import { readUntilFinished } from '../jobs/waiting.js';
import { ANSWER, failIfOverdue, isFinished } from '../jobs/work-items.js';
import { env } from '../platform/env.js';
import { AppError, conflict, notFound, undefinedIfNotFound } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { addMetric, logger, MetricUnit } from '../platform/observability.js';
import { orgReadLimiter, orgRateLimiter, type RateLimiter } from '../rate-limit/org-rate-limit.js';
import { dynamoRateWindowRepository } from '../rate-limit/repository.js';
import { dynamoSessionRepository, type SessionRepository } from '../sessions/repository.js';
import { sessionAccess, type SessionAccess } from '../sessions/access.js';
import { defaultDb } from '../store/client.js';
import { checkMonthlyBudget } from '../usage/budget.js';
import { orgPolicy } from '../org-policy/policy.js';
import { publishFinished, type PublishFinished } from '../events/publish.js';
import { defaultErasures } from '../erasure/repository.js';
import type { Page } from '../store/paging.js';
import { dynamoMessageRepository, toMessage, type MessageItem, type MessageRepository, type NewMessage } from './repository.js';
import type { AskAccepted, AskBody, CreateMessageBody, ListMessagesQuery, Message } from './schema.js';

export interface MessageServiceDeps {
  messages: MessageRepository;
  /** The per-org limit of list reads; without it, lists are not limited. */
  readLimit?: RateLimiter;
  sessions: Pick<SessionRepository, 'addMessageCount'>;
  /** Who may use which session (the sessions' own rules). */
  access: Pick<SessionAccess, 'load' | 'loadOpen' | 'authorizeItem' | 'admit' | 'expiryOf'>;
  /** Sends the event of an answer a cancel settled; only the cancel route's wiring has it (it carries a queue client). */
  publish?: PublishFinished;
}

export interface AskServiceDeps extends MessageServiceDeps {
  queue: JobQueue;
  rateLimit: RateLimiter;
  /** Refuses new work once the organization's monthly token budget is spent; without it, none is checked. */
  checkBudget?: (orgId: string) => Promise<void>;
}

/**
 * Asking: a question and its waiting answer are stored, and the job that answers it is queued. Apart
 * from the message service, so that the routes that never queue carry no queue client.
 */
export function askService({ messages, sessions, access, queue, rateLimit, checkBudget }: AskServiceDeps) {
  return {
    /**
     * Asks a question: stores the user's message (COMPLETED) and a PENDING assistant message, and
     * queues the job that answers it. If the job cannot be queued, both messages are removed again
     * and the caller gets a retryable 503: nothing is left waiting for an answer that will never come.
     * A send that failed may still have reached the queue: if a worker has already claimed the
     * answer, the job is there, and the ask is accepted after all rather than answered twice.
     */
    async ask(principal: Principal, sessionId: string, body: AskBody): Promise<AskAccepted> {
      // The session is not read first: the admission below is conditioned on it being the caller's
      // and open, and an ask into any other removes what it stored (one read fewer per ask).
      await rateLimit(principal.orgId, env.orgRateLimitPerMinute());
      await checkBudget?.(principal.orgId);
      const now = new Date().toISOString();
      const userMessageId = newId();
      const messageId = newId();
      const expires = await access.expiryOf(principal.orgId, now);
      // The owner on each item lets a poll read the message alone.
      const common = { session_id: sessionId, user_id: principal.userId, created_at: now, ...(expires ? { expires_at: expires } : {}) };
      const question: NewMessage = {
        ...common,
        message_id: userMessageId,
        role: 'user',
        content: body.message,
        status: 'COMPLETED',
        completed_at: now,
      };
      const answer: NewMessage = {
        ...common,
        message_id: messageId,
        role: 'assistant',
        content: '',
        status: 'PENDING',
        reply_to: userMessageId,
        // The request itself stays in the table; the job only names it.
        ...(body.history !== undefined ? { request_history: body.history } : {}),
        ...(body.model !== undefined ? { request_model: body.model } : {}),
      };
      await messages.putAll(principal.orgId, [question, answer]);
      const undo = () => messages.deleteAll(principal.orgId, sessionId, [userMessageId, messageId]);
      await access.admit(principal, sessionId, now, 2, undo, messageId);
      try {
        await queue.enqueue({ kind: 'ask', org_id: principal.orgId, session_id: sessionId, message_id: messageId, enqueued_at: now });
        addMetric('JobQueued', MetricUnit.Count, 1);
      } catch (error) {
        if (!(await messages.withdrawUnclaimed(principal.orgId, sessionId, messageId))) {
          logger.warn('an ask whose send failed was queued all the same', { session_id: sessionId, message_id: messageId, error: (error as Error).name });
          return { message_id: messageId, user_message_id: userMessageId, status: 'PENDING' };
        }
        addMetric('QueueUnavailable', MetricUnit.Count, 1);
        logger.error('could not queue an ask', { session_id: sessionId, message_id: messageId, error: (error as Error).name });
        await messages.deleteAll(principal.orgId, sessionId, [userMessageId]);
        await sessions.addMessageCount(principal.orgId, sessionId, -2);
        throw new AppError('unavailable', 'queue_unavailable', 'The question could not be queued just now and was not saved. Send it again in a few seconds.', {
          retryAfterSeconds: 5,
        });
      }
      return { message_id: messageId, user_message_id: userMessageId, status: 'PENDING' };
    },
  };
}

export type AskService = ReturnType<typeof askService>;

/**
 * The messages' rules: adding, reading, listing and deleting messages, and the deadline past which
 * a waiting answer is given up when read.
 */
export function messageService({ messages, sessions, access, readLimit, publish }: MessageServiceDeps) {
  /** Fails a waiting answer read past the deadline; shows one being generated with its text so far. */
  const failedIfOverdue = (item: MessageItem) =>
    failIfOverdue(item, ANSWER, env.jobDeadlineMinutes(), (fields) => messages.failUnfinished(item, fields));
  /** The message as a reader sees it: one being answered shows its text so far (two more reads). */
  const view = async (current: MessageItem): Promise<Message> => {
    if (current.status !== ANSWER.lifecycle.processing) return toMessage(current);
    const textSoFar = await messages.textSoFar(current.pk.split('#')[1]!, current.session_id, current.message_id);
    return toMessage({ ...current, content: textSoFar ?? '' });
  };

  return {

    /** Adds a message written elsewhere (a user's or an assistant's), as it is: COMPLETED. */
    async add(principal: Principal, sessionId: string, body: CreateMessageBody): Promise<Message> {
      await access.loadOpen(principal, sessionId);
      const now = new Date().toISOString();
      const messageId = newId();
      const expires = await access.expiryOf(principal.orgId, now);
      const item: NewMessage = {
        ...(expires ? { expires_at: expires } : {}),
        message_id: messageId,
        session_id: sessionId,
        user_id: principal.userId,
        role: body.role,
        content: body.content,
        status: 'COMPLETED',
        created_at: now,
        completed_at: now,
        manual: true,
      };
      const stored = await messages.put(principal.orgId, item);
      await access.admit(principal, sessionId, now, 1, async () => void (await messages.delete(principal.orgId, sessionId, messageId)), messageId);
      return toMessage(stored);
    },

    /**
     * One message of a session the caller may read: what pollers read, in one GetItem, as the
     * session's owner is stored on the message. Items without an owner fall back to reading the session.
     * With `waitSeconds`, answers once the message has finished, or after that long.
     */
    async get(principal: Principal, sessionId: string, messageId: string, waitSeconds?: number): Promise<Message> {
      const item = await messages.get(principal.orgId, sessionId, messageId);
      if (!item) throw notFound('Message');
      await access.authorizeItem(principal, sessionId, item, 'Message');
      let first = true;
      // With `wait`: read the item again until it has finished (one deleted, past its time or erased
      // meanwhile is not found); only the one answered is given its text so far.
      const read = async (): Promise<MessageItem> => {
        if (first) return (first = false), failedIfOverdue(item);
        const again = await messages.get(principal.orgId, sessionId, messageId);
        if (!again) throw notFound('Message');
        await access.authorizeItem(principal, sessionId, again, 'Message');
        return failedIfOverdue(again);
      };
      return view(await readUntilFinished(read, (current) => isFinished(current.status, ANSWER.lifecycle), waitSeconds));
    },

    /**
     * Follows an answer as it is generated (a stream): its text past `after` characters, then each
     * addition, then `done` with the message as its GET shows it. The checks of a GET come first,
     * so a message the caller may not read is refused before any event.
     */
    async follow(principal: Principal, sessionId: string, messageId: string, after: ResumePoint): Promise<AsyncIterable<FollowEvent>> {
      let next: Message | undefined = await this.get(principal, sessionId, messageId);
      const read = async (): Promise<FollowedState | undefined> => {
        const message = next ?? (await this.get(principal, sessionId, messageId).catch(undefinedIfNotFound));
        next = undefined;
        return message && { text: message.content, finished: isFinished(message.status, ANSWER.lifecycle), view: message };
      };
      return follow(read, { after });
    },

    /** A session's messages, newest first by default, a page at a time. */
    async list(principal: Principal, sessionId: string, query: ListMessagesQuery): Promise<Page<Message>> {
      await access.load(principal, sessionId, 'read');
      await readLimit?.(principal.orgId, env.orgReadRateLimitPerMinute());
      const page = await messages.page(principal.orgId, sessionId, { limit: query.limit, order: query.order, after: query.after });
      return { ...page, items: await Promise.all(page.items.map(view)) };
    },

    /**
     * Cancels an answer of the caller's own session: a waiting one at once, one being generated at
     * once too, keeping its text so far, while its worker stops the model within seconds. Cancelling
     * it again answers it again; a finished answer or a user's message cannot be cancelled (409).
     */
    async cancel(principal: Principal, sessionId: string, messageId: string): Promise<Message> {
      await access.load(principal, sessionId, 'write');
      const item = await messages.get(principal.orgId, sessionId, messageId);
      if (!item) throw notFound('Message');
      if (item.role !== 'assistant') throw conflict('Only an answer can be cancelled; this is a user’s message.', 'not_cancellable');
      const cancelled = await messages.cancel(principal.orgId, sessionId, messageId);
      if (cancelled.outcome === 'gone') throw notFound('Message');
      if (cancelled.outcome === 'finished') {
        throw conflict(`This answer has already finished (${cancelled.item.status}); there is nothing to cancel.`, 'already_finished');
      }
      if (cancelled.now) await publish?.(principal.orgId, { message: cancelled.item as unknown as MessageItem });
      return toMessage(cancelled.item as unknown as MessageItem);
    },

    /** Deletes one message. A waiting answer that is deleted is simply never written. */
    async remove(principal: Principal, sessionId: string, messageId: string): Promise<void> {
      await access.load(principal, sessionId, 'write');
      if (!(await messages.delete(principal.orgId, sessionId, messageId))) throw notFound('Message');
      await sessions.addMessageCount(principal.orgId, sessionId, -1);
    },
  };
}

export type MessageService = ReturnType<typeof messageService>;

/** The repositories and session rules on this process's table (TABLE_NAME). */
function tableDeps(): MessageServiceDeps {
  const db = defaultDb();
  const sessions = dynamoSessionRepository(db);
  const messages = dynamoMessageRepository(db);
  return { messages, sessions, access: sessionAccess({ sessions, policy: orgPolicy, erasedAt: defaultErasures() }) };
}

let messages: MessageService | undefined;
let asking: AskService | undefined;

/** The message service on this process's table, made on first use. */
export function defaultMessageService(): MessageService {
  messages ??= messageService({ ...tableDeps(), readLimit: orgReadLimiter(dynamoRateWindowRepository(defaultDb(), 'READS')) });
  return messages;
}

let cancelling: MessageService | undefined;
/** The message service of the cancel route: it also sends the event of the answer it cancels. */
export function defaultMessageCancelService(): MessageService {
  cancelling ??= messageService({ ...tableDeps(), publish: publishFinished });
  return cancelling;
}

/** The ask service on this process's table and queues, made on first use. */
export function defaultAskService(): AskService {
  asking ??= askService({
    ...tableDeps(),
    queue: sqsJobQueue,
    rateLimit: orgRateLimiter(dynamoRateWindowRepository(defaultDb())),
    checkBudget: checkMonthlyBudget,
  });
  return asking;
}
