import { isOrgAdmin, type Principal } from '../auth/principal.js';
import { dynamoMessageRepository, toMessage, type MessageRepository } from '../messages/repository.js';
import { AppError, conflict, forbidden, notFound } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { env } from '../platform/env.js';
import { orgReadLimiter, type RateLimiter } from '../rate-limit/org-rate-limit.js';
import { dynamoRateWindowRepository } from '../rate-limit/repository.js';
import { defaultDb } from '../store/client.js';
import { orgPolicy, retentionExpiry, type OrgPolicy } from '../org-policy/policy.js';
import type { Page } from '../store/paging.js';
import { dynamoSessionRepository, toSession, type SessionItem, type SessionRepository } from './repository.js';
import type { CreateSessionBody, ListSessionsQuery, Session, UpdateSessionBody } from './schema.js';

export const DEFAULT_SESSION_NAME = 'New session';

const SESSION_ENDED = () =>
  conflict('This session has ended: it can be read but takes no new asks, tasks or messages. Start a new session.', 'session_ended');

/** What a caller means to do with a session: admins may read others' sessions, only owners change them. */
export type Access = 'read' | 'write';

/** How many last-message reads run at once for one list answer. */
const LAST_MESSAGE_CONCURRENCY = 16;

export interface SessionServiceDeps {
  sessions: SessionRepository;
  /** The organization's policy, for its retention; without it, data is kept. */
  policy?: (orgId: string) => Promise<OrgPolicy>;
  messages: Pick<MessageRepository, 'last' | 'getMany'>;
  /** The per-org limit of list reads; without it, lists are not limited (tests of other rules). */
  readLimit?: RateLimiter;
}

/**
 * The sessions' rules: who may read and change which session, defaults, ending, listing, deleting.
 * Every call is scoped by the verified caller; another org's or user's session is "not found".
 */
export function sessionService({ sessions, messages, readLimit, policy }: SessionServiceDeps) {
  /**
   * Loads a session the caller may see. Another org's, another user's (unless an admin reads) and a
   * deleted one all answer not found; an admin changing someone else's session is refused.
   */
  async function load(principal: Principal, sessionId: string, access: Access, options: { includeDeleting?: boolean } = {}): Promise<SessionItem> {
    const item = await sessions.get(principal.orgId, sessionId);
    if (!item || (item.deleting_at && !options.includeDeleting)) throw notFound('Session');
    if (item.user_id !== principal.userId && !(access === 'read' && isOrgAdmin(principal))) throw notOwner(principal);
    return item;
  }

  /** Another member's session, to be changed: not found, or forbidden to an admin (who may read it). */
  function notOwner(principal: Principal): AppError {
    if (!isOrgAdmin(principal)) return notFound('Session');
    return forbidden("Org admins may read another member's session but not change it.", 'not_session_owner');
  }

  /** When an item written now for the organization expires under its retention (epoch seconds), if it has one. */
  async function expiryOf(orgId: string, at: string): Promise<number | undefined> {
    return policy ? retentionExpiry(await policy(orgId), Date.parse(at)) : undefined;
  }

  return {
    load,
    expiryOf,

    /**
     * Checks that the caller may read an item of a session (a message or a task) whose owner is
     * stored on it, without reading the session; an item stored without its owner falls back to
     * reading the session. Another member's item is "not found" as `what`.
     */
    async authorizeItem(principal: Principal, sessionId: string, ownerId: string | undefined, what: string): Promise<void> {
      if (typeof ownerId !== 'string') await load(principal, sessionId, 'read');
      else if (ownerId !== principal.userId && !isOrgAdmin(principal)) throw notFound(what);
    },

    /** The caller's own open session: asks, tasks and new messages need one. */
    async loadOpen(principal: Principal, sessionId: string): Promise<SessionItem> {
      const item = await load(principal, sessionId, 'write');
      if (item.session_end) throw SESSION_ENDED();
      return item;
    },

    /** Creates a session owned by the caller. */
    async create(principal: Principal, input: CreateSessionBody): Promise<Session> {
      const session: Session = {
        session_id: newId(),
        name: input.name ?? DEFAULT_SESSION_NAME,
        system_prompt: input.system_prompt ?? null,
        session_start: new Date().toISOString(),
        session_end: null,
        user_id: principal.userId,
        org_id: principal.orgId,
        message_count: 0,
      };
      await sessions.create(session, await expiryOf(principal.orgId, session.session_start));
      return session;
    },

    /** Reads one session. */
    async get(principal: Principal, sessionId: string): Promise<Session> {
      return toSession(await load(principal, sessionId, 'read'));
    },

    /** Renames, re-prompts or ends a session. Ending is idempotent and keeps the first end time. */
    async update(principal: Principal, sessionId: string, patch: UpdateSessionBody): Promise<Session> {
      for (let attempt = 1; ; attempt++) {
        const item = await load(principal, sessionId, 'write');
        // An end comes after every write admitted into the session (see admitWrite).
        const now = new Date().toISOString();
        const endAt = patch.end ? (item.last_write_at && item.last_write_at > now ? item.last_write_at : now) : undefined;
        const updated = await sessions.update(principal.orgId, sessionId, principal.userId, { name: patch.name, system_prompt: patch.system_prompt, endAt });
        // Deleted between the read and the write.
        if (!updated) throw notFound('Session');
        if (updated !== 'raced') return updated;
        if (attempt >= 5) throw new AppError('unavailable', 'session_busy', 'The session is taking many writes right now. Try ending it again in a moment.', { retryAfterSeconds: 1 });
      }
    },

    /**
     * Admits a write whose items are stored (a question and its answer, a message, a task) into the
     * caller's own session, or throws, having removed them with `undo`: 404 when there is no such
     * session of the caller's (or it was deleted meanwhile), 403 to an admin writing in another
     * member's, 409 `session_ended` when it ended. A write is accepted only if the session is open
     * at the moment it is admitted, and a delete then always finds its items.
     */
    async admit(principal: Principal, sessionId: string, at: string, messageCount: number, undo: () => Promise<void>, lastMessageId?: string): Promise<void> {
      let admission: Awaited<ReturnType<SessionRepository['admitWrite']>>;
      try {
        admission = await sessions.admitWrite(principal.orgId, sessionId, principal.userId, at, messageCount, lastMessageId, await expiryOf(principal.orgId, at));
      } catch (error) {
        // Not admitted, for a reason of the store's: what was stored goes too, and the caller may retry.
        await undo();
        throw error;
      }
      if (admission === 'admitted') return;
      await undo();
      if (admission === 'gone') throw notFound('Session');
      if (admission === 'not_owner') throw notOwner(principal);
      throw SESSION_ENDED();
    },

    /** The caller's own sessions, newest first, a page at a time, each with its last message when asked. */
    async list(principal: Principal, query: ListSessionsQuery): Promise<Page<Session>> {
      await readLimit?.(principal.orgId, env.orgReadRateLimitPerMinute());
      const stored = await sessions.listByOwner(principal.orgId, principal.userId, { limit: query.limit, after: query.after });
      const page = { ...stored, items: stored.items.map(toSession) };
      if (!query.include_last) return page;
      // The newest message of each session is named on it: one batch read for the page. Sessions
      // without the name (older ones, or whose last message was deleted) are queried, a few at once.
      const named = stored.items.filter((item) => item.last_message_id);
      const found = await messages.getMany(principal.orgId, named.map((item) => ({ sessionId: item.session_id, messageId: item.last_message_id! })));
      const byId = new Map(found.map((item) => [item.message_id, item]));
      const missing: number[] = [];
      stored.items.forEach((item, index) => {
        const last = item.last_message_id ? byId.get(item.last_message_id) : undefined;
        if (last) page.items[index]!.last_message = toMessage(last);
        else missing.push(index);
      });
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < missing.length) {
          const index = missing[next++]!;
          const last = await messages.last(principal.orgId, page.items[index]!.session_id);
          page.items[index]!.last_message = last ? toMessage(last) : null;
        }
      };
      await Promise.all(Array.from({ length: Math.min(LAST_MESSAGE_CONCURRENCY, missing.length) }, worker));
      return page;
    },

    /**
     * Deletes a session with all its messages and tasks. The session is first marked as being
     * deleted (so it answers 404 at once and takes no new work), then its items go, the session item
     * last, so a delete cut off half-way is finished by the client's retry.
     */
    async remove(principal: Principal, sessionId: string): Promise<void> {
      await load(principal, sessionId, 'write', { includeDeleting: true });
      await sessions.markDeleting(principal.orgId, sessionId, new Date().toISOString());
      await sessions.deleteWithItems(principal.orgId, sessionId);
    },
  };
}

export type SessionService = ReturnType<typeof sessionService>;

let wired: SessionService | undefined;

/** The session service on this process's table (TABLE_NAME), made on first use. */
export function defaultSessionService(): SessionService {
  const db = defaultDb();
  wired ??= sessionService({
    sessions: dynamoSessionRepository(db),
    messages: dynamoMessageRepository(db),
    readLimit: orgReadLimiter(dynamoRateWindowRepository(db, 'READS')),
    policy: orgPolicy,
  });
  return wired;
}
