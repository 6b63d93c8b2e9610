import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchWrite, deleteQueried, deleteRequest } from '../store/batch.js';
import { isConditionFailure, type Db } from '../store/client.js';
import { isExpired, nowSeconds, unexpired } from '../store/expiry.js';
import { keys, SESSION_SK } from '../store/keys.js';
import { queryPage, type Page } from '../store/paging.js';
import { TABLE } from '../store/table.js';
import type { Session } from './schema.js';

/** A session as stored: the API's fields (but `session_end` while open), its keys and the workers' cursor. */
export interface SessionItem extends Omit<Session, 'session_end' | 'last_message' | 'message_count'> {
  pk: string;
  sk: typeof SESSION_SK;
  gsi1pk: string;
  gsi1sk: string;
  entity: 'session';
  /** Absent while the session is open, so that ending can use if_not_exists and keep the first end time. */
  session_end?: string;
  /** Stored as 0 at creation; items written before the count existed have none. */
  message_count?: number;
  /** Set when a delete starts: from then on the session is gone for every caller but the delete's retry. */
  deleting_at?: string;
  /** The id of the last ask answered in order: the worker looks for the next one after it. */
  answered_through?: string;
  /** The latest `created_at` of a write admitted into the session: an end is never set before it. */
  last_write_at?: string;
  /** The newest message admitted, so that a list shows last messages with one batch read. */
  last_message_id?: string;
  /** When its organization keeps data for a time: its last activity and that time (epoch seconds, the table's TTL). */
  expires_at?: number;
}

/** What became of a write offered to its session: admitted, or refused because the session ended or is gone. */
export type Admission = 'admitted' | 'ended' | 'gone' | 'not_owner';

/** What a session's owner may change, as the update writes it. */
export interface SessionPatch {
  name?: string;
  system_prompt?: string | null;
  /** Ends the session at this time, unless it has ended already. */
  endAt?: string;
}

/** The session items' data access; the rules are in ./service.ts. */
export interface SessionRepository {
  /** The stored session, deleting or not (consistent read). */
  get(orgId: string, sessionId: string): Promise<SessionItem | undefined>;
  /** Stores a new session; an id already taken throws. */
  /** Stores a new session; `expiresAt` (epoch seconds) when its organization keeps data for a time. */
  create(session: Session, expiresAt?: number): Promise<void>;
  /**
   * Applies the owner's patch: undefined when the session is gone, being deleted or another's;
   * 'raced' when an end would be earlier than a write admitted meanwhile (read again and retry).
   */
  update(orgId: string, sessionId: string, ownerId: string, patch: SessionPatch): Promise<Session | undefined | 'raced'>;
  /**
   * Admits a write made at `at` (its items already stored) into the session, only while the session
   * is open and not being deleted, and adds `messages` to its count. A write is accepted only when
   * admitted: its caller removes what it stored otherwise. An end after it is never earlier than `at`.
   * The session must be `ownerId`'s, so a write needs no read of the session before it.
   */
  admitWrite(orgId: string, sessionId: string, ownerId: string, at: string, messages: number, lastMessageId?: string, expiresAt?: number): Promise<Admission>;
  /** A user's sessions, newest first, without those being deleted; `after` is the last id of the page before. */
  listByOwner(orgId: string, userId: string, page: { limit: number; after?: string }): Promise<Page<SessionItem>>;
  /** Marks the session as being deleted (keeps the first mark). */
  markDeleting(orgId: string, sessionId: string, at: string): Promise<void>;
  /** Deletes every item of the session's partition, the session item last. */
  deleteWithItems(orgId: string, sessionId: string): Promise<void>;
  /** Adds `delta` to the message count; a session gone or being deleted is left alone. */
  addMessageCount(orgId: string, sessionId: string, delta: number): Promise<void>;
  /** Moves the answered-in-order cursor forward to `messageId` (never back). */
  advanceAnsweredThrough(orgId: string, sessionId: string, messageId: string): Promise<void>;
}

/** The API's view of a stored session, fields in the contract's order. */
export const toSession = (item: SessionItem): Session => ({
  session_id: item.session_id,
  name: item.name,
  system_prompt: item.system_prompt ?? null,
  session_start: item.session_start,
  session_end: item.session_end ?? null,
  user_id: item.user_id,
  org_id: item.org_id,
  message_count: item.message_count ?? 0,
});

/** Conditions that keep writes off a session that is gone or being deleted. */
const LIVE = 'attribute_exists(pk) AND attribute_not_exists(deleting_at)';

/** The session repository on the single table. */
export function dynamoSessionRepository(db: Db): SessionRepository {
  const ignoreConditionFailure = (error: unknown): void => {
    if (!isConditionFailure(error)) throw error;
  };
  const repository: SessionRepository = {
    async get(orgId, sessionId) {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.session(orgId, sessionId), ConsistentRead: true }));
      return unexpired(Item as SessionItem | undefined);
    },

    async create(session, expiresAt) {
      const { session_end: _open, last_message: _none, ...stored } = session;
      const item: SessionItem = {
        ...keys.session(session.org_id, session.session_id),
        ...keys.sessionOwner(session.org_id, session.user_id, session.session_id),
        entity: 'session',
        ...stored,
        ...(expiresAt ? { expires_at: expiresAt } : {}),
      } as SessionItem;
      await db.doc.send(new PutCommand({ TableName: db.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
    },

    async update(orgId, sessionId, ownerId, patch) {
      const sets: string[] = [];
      const values: Record<string, unknown> = { ':owner': ownerId };
      if (patch.name !== undefined) {
        sets.push('#name = :name');
        values[':name'] = patch.name;
      }
      if (patch.system_prompt !== undefined) {
        sets.push('system_prompt = :prompt');
        values[':prompt'] = patch.system_prompt;
      }
      // An end is never earlier than a write already admitted (an ended session keeps its end).
      let ending = '';
      if (patch.endAt !== undefined) {
        sets.push('session_end = if_not_exists(session_end, :now)');
        values[':now'] = patch.endAt;
        ending = ' AND (attribute_exists(session_end) OR attribute_not_exists(last_write_at) OR last_write_at <= :now)';
      }
      try {
        const { Attributes } = await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.session(orgId, sessionId),
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: `${LIVE} AND user_id = :owner${ending}`,
            ExpressionAttributeNames: patch.name !== undefined ? { '#name': 'name' } : undefined,
            ExpressionAttributeValues: values,
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toSession(Attributes as SessionItem);
      } catch (error) {
        ignoreConditionFailure(error);
        const item = await repository.get(orgId, sessionId);
        return item && !item.deleting_at && item.user_id === ownerId && patch.endAt !== undefined ? 'raced' : undefined;
      }
    },

    async admitWrite(orgId, sessionId, ownerId, at, messages, lastMessageId, expiresAt) {
      // A session is kept its organization's retention after its last activity: each write moves it.
      // Without a retention (none, or no more), the session is kept until it is deleted.
      const retained = expiresAt ? ', expires_at = :exp' : ' REMOVE expires_at';
      const latest = `${lastMessageId ? 'SET last_write_at = :at, last_message_id = :last' : 'SET last_write_at = :at'}${retained}`;
      const admit = (fence: string) =>
        db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.session(orgId, sessionId),
            UpdateExpression: fence === 'later' ? `${latest} ADD message_count :n` : 'ADD message_count :n',
            // A session past its retention takes no write, though the table may still hold it.
            ConditionExpression: `${LIVE} AND user_id = :owner AND attribute_not_exists(session_end) AND (attribute_not_exists(expires_at) OR expires_at > :nowSeconds) AND ${
              fence === 'later' ? '(attribute_not_exists(last_write_at) OR last_write_at <= :at)' : 'last_write_at > :at'
            }`,
            ExpressionAttributeValues: {
              ':at': at,
              ':n': messages,
              ':owner': ownerId,
              ':nowSeconds': nowSeconds(),
              ...(lastMessageId && fence === 'later' ? { ':last': lastMessageId } : {}),
              ...(expiresAt && fence === 'later' ? { ':exp': expiresAt } : {}),
            },
          }),
        );
      // Two tries: as the latest write (it moves last_write_at), or behind a later one (it leaves it).
      for (let round = 0; round < 3; round++) {
        for (const fence of ['later', 'earlier']) {
          try {
            await admit(fence);
            return 'admitted';
          } catch (error) {
            ignoreConditionFailure(error);
          }
        }
        const item = await repository.get(orgId, sessionId);
        if (!item || item.deleting_at) return 'gone';
        if (item.user_id !== ownerId) return 'not_owner';
        if (item.session_end) return 'ended';
      }
      throw new Error('The session kept changing while a write was admitted into it; try again.');
    },

    async listByOwner(orgId, userId, { limit, after }) {
      const { byOwnerIndex } = TABLE;
      const owner = keys.sessionOwner(orgId, userId, after ?? '');
      // The cursor is only a position: its keys are rebuilt from the caller's own org and user, so an
      // id from elsewhere can never move the query out of the caller's partition.
      const exclusiveStartKey = after ? { ...owner, ...keys.session(orgId, after) } : undefined;
      return queryPage(
        db,
        {
          IndexName: byOwnerIndex.name,
          KeyConditionExpression: '#pk = :owner',
          FilterExpression: 'attribute_not_exists(deleting_at)',
          ExpressionAttributeNames: { '#pk': byOwnerIndex.partitionKey },
          ExpressionAttributeValues: { ':owner': owner.gsi1pk },
          ScanIndexForward: false,
        },
        { limit, exclusiveStartKey, view: (item) => item as unknown as SessionItem, idOf: (session) => session.session_id, keep: (item) => !isExpired(item) },
      );
    },

    async markDeleting(orgId, sessionId, at) {
      await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.session(orgId, sessionId),
          UpdateExpression: 'SET deleting_at = if_not_exists(deleting_at, :now)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': at },
        }),
      );
    },

    async deleteWithItems(orgId, sessionId) {
      const key = keys.session(orgId, sessionId);
      const children = { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': key.pk }, ProjectionExpression: 'pk, sk', ConsistentRead: true };
      // Sweeps until a whole pass finds nothing: a write that was stored before the session was
      // marked, and admitted before, is found by a sweep after the mark (reads are consistent).
      while ((await deleteQueried(db, children, (item) => item.sk === SESSION_SK)) > 0);
      await batchWrite(db, [deleteRequest(key)]);
    },

    async addMessageCount(orgId, sessionId, delta) {
      await db.doc
        .send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.session(orgId, sessionId),
            UpdateExpression: 'ADD message_count :delta',
            ConditionExpression: LIVE,
            ExpressionAttributeValues: { ':delta': delta },
          }),
        )
        .catch(ignoreConditionFailure);
    },

    async advanceAnsweredThrough(orgId, sessionId, messageId) {
      await db.doc
        .send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.session(orgId, sessionId),
            UpdateExpression: 'SET answered_through = :id',
            ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(answered_through) OR answered_through < :id)',
            ExpressionAttributeValues: { ':id': messageId },
          }),
        )
        .catch(ignoreConditionFailure);
    },
  };
  return repository;
}
