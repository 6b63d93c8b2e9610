import { type Principal } from '../auth/principal.js';
import { dynamoMessageRepository, toMessage, type MessageRepository } from '../messages/repository.js';
import { AppError, notFound } from '../platform/errors.js';
import { newId } from '../platform/ids.js';
import { env } from '../platform/env.js';
import { orgReadLimiter, type RateLimiter } from '../rate-limit/org-rate-limit.js';
import { dynamoRateWindowRepository } from '../rate-limit/repository.js';
import { defaultDb } from '../store/client.js';
import { orgPolicy, type OrgPolicy } from '../org-policy/policy.js';
import type { Page } from '../store/paging.js';
import { sessionAccess } from './access.js';
import { defaultErasures, type ErasedAt } from '../erasure/repository.js';
import { dynamoSessionRepository, toSession, type SessionRepository } from './repository.js';
import type { CreateSessionBody, ListSessionsQuery, Session, UpdateSessionBody } from './schema.js';

export const DEFAULT_SESSION_NAME = 'New session';

/** How many last-message reads run at once for one list answer. */
const LAST_MESSAGE_CONCURRENCY = 16;

export interface SessionServiceDeps {
  sessions: SessionRepository;
  /** The organization's policy, for its retention; without it, data is kept. */
  policy?: (orgId: string) => Promise<OrgPolicy>;
  messages: Pick<MessageRepository, 'last' | 'getMany'>;
  /** The per-org limit of list reads; without it, lists are not limited (tests of other rules). */
  readLimit?: RateLimiter;
  /** When a user's data was erased (erasure/repository.ts); without it, no erasure is looked up. */
  erasedAt?: ErasedAt;
}

/**
 * The sessions' rules: who may read and change which session (sessions/access.ts), defaults,
 * ending, listing, deleting. Every call is scoped by the verified caller; another org's or user's
 * session is "not found".
 */
export function sessionService({ sessions, messages, readLimit, policy, erasedAt }: SessionServiceDeps) {
  const access = sessionAccess({ sessions, policy, erasedAt });
  const { load, expiryOf } = access;

  return {
    ...access,

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

    /** The caller's own sessions, newest first, a page at a time, each with its last message when asked. */
    async list(principal: Principal, query: ListSessionsQuery): Promise<Page<Session>> {
      await readLimit?.(principal.orgId, env.orgReadRateLimitPerMinute());
      // While an erasure of the caller's sweeps, the sessions it covers are already gone.
      const [listed, erased] = await Promise.all([
        sessions.listByOwner(principal.orgId, principal.userId, { limit: query.limit, after: query.after }),
        access.erasureOf(principal.orgId, principal.userId),
      ]);
      const stored = erased === undefined ? listed : { ...listed, items: listed.items.filter((item) => item.session_start > erased) };
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
    erasedAt: defaultErasures(),
  });
  return wired;
}
