import { isOrgAdmin, type Principal } from '../auth/principal.js';
import { retentionExpiry, type OrgPolicy } from '../org-policy/policy.js';
import { AppError, conflict, forbidden, notFound } from '../platform/errors.js';
import type { ErasedAt } from '../erasure/repository.js';
import type { SessionItem, SessionRepository } from './repository.js';

export const SESSION_ENDED = () =>
  conflict('This session has ended: it can be read but takes no new asks, tasks or messages. Start a new session.', 'session_ended');

/** What a caller means to do with a session: admins may read others' sessions, only owners change them. */
export type Access = 'read' | 'write';

export interface SessionAccessDeps {
  sessions: Pick<SessionRepository, 'get' | 'admitWrite'>;
  /** The organization's policy, for its retention; without it, data is kept. */
  policy?: (orgId: string) => Promise<OrgPolicy>;
  /** When a user's data was erased (erasure/repository.ts); without it, no erasure is looked up. */
  erasedAt?: ErasedAt;
}

/** An item of a session, as far as reading it goes: its owner (older items may lack it) and creation. */
export interface OwnedItem {
  user_id?: string;
  created_at: string;
}

/**
 * Who may use which session, and how a write gets into one: the rules the sessions, messages and
 * tasks services share (the routes of messages and tasks need no more of the sessions' service).
 * Every call is scoped by the verified caller; another org's or user's session is "not found".
 */
export function sessionAccess({ sessions, policy, erasedAt }: SessionAccessDeps) {
  /** When the user's data was erased in the organization, if it was (and it is looked up). */
  const erasureOf = async (orgId: string, userId: string): Promise<string | undefined> => (erasedAt ? erasedAt(orgId, userId) : undefined);

  /**
   * Loads a session the caller may see. Another org's, another user's (unless an admin reads), a
   * deleted one and one its owner's erasure covers (started before it, though not swept yet) all
   * answer not found; an admin changing someone else's session is refused.
   */
  async function load(principal: Principal, sessionId: string, access: Access, options: { includeDeleting?: boolean } = {}): Promise<SessionItem> {
    // The caller's own erasure is looked up beside the read (most sessions read are one's own).
    const [item, ownErasure] = await Promise.all([sessions.get(principal.orgId, sessionId), erasureOf(principal.orgId, principal.userId)]);
    if (!item || (item.deleting_at && !options.includeDeleting)) throw notFound('Session');
    if (item.user_id !== principal.userId && !(access === 'read' && isOrgAdmin(principal))) throw notOwner(principal);
    const erased = item.user_id === principal.userId ? ownErasure : await erasureOf(principal.orgId, item.user_id);
    if (erased !== undefined && item.session_start <= erased) throw notFound('Session');
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
     * reading the session. Another member's item, and an erased one, is "not found" as `what`.
     */
    async authorizeItem(principal: Principal, sessionId: string, item: OwnedItem, what: string): Promise<void> {
      const ownerId = item.user_id;
      if (typeof ownerId !== 'string') return void (await load(principal, sessionId, 'read'));
      if (ownerId !== principal.userId && !isOrgAdmin(principal)) throw notFound(what);
      // An item of an erased user: gone if it was made before the erasure; made after it, gone too
      // if its session is one the erasure covers (being swept).
      const erased = await erasureOf(principal.orgId, ownerId);
      if (erased === undefined) return;
      if (item.created_at <= erased) throw notFound(what);
      await load(principal, sessionId, 'read').catch((error: unknown) => {
        throw error instanceof AppError && error.kind === 'not_found' ? notFound(what) : error;
      });
    },

    /** When the user's data was erased, if it was: a list leaves out the sessions the erasure covers. */
    erasureOf,

    /** The caller's own open session: asks, tasks and new messages need one. */
    async loadOpen(principal: Principal, sessionId: string): Promise<SessionItem> {
      const item = await load(principal, sessionId, 'write');
      if (item.session_end) throw SESSION_ENDED();
      return item;
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

  };
}

export type SessionAccess = ReturnType<typeof sessionAccess>;

