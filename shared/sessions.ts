import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isOrgAdmin, type Principal } from './auth/principal.js';
import { forbidden, notFound } from './errors.js';
import { newId } from './ids.js';
import type { Message } from './schemas/messages.js';
import type { CreateSessionBody, ListSessionsQuery, Session, UpdateSessionBody } from './schemas/sessions.js';
import { batchWrite, deleteRequest } from './store/batch.js';
import { isConditionFailure, type Db } from './store/db.js';
import { keys, MESSAGE_SK_PREFIX, SESSION_SK } from './store/keys.js';
import { toMessage } from './views.js';
import { queryPage, type Page } from './store/paging.js';
import { TABLE } from './store/table.js';

export const DEFAULT_SESSION_NAME = 'New session';

/** What a caller means to do with a session: admins may read others' sessions, only owners change them. */
export type Access = 'read' | 'write';

interface SessionItem extends Session {
  pk: string;
  sk: string;
  gsi1pk: string;
  gsi1sk: string;
  entity: 'session';
  /** Set when a delete starts: from then on the session is gone for every caller but the delete's retry. */
  deleting_at?: string;
}

/** The API's view of a stored session, fields in the contract's order. */
const toSession = (item: Record<string, unknown>): Session => {
  const stored = item as unknown as SessionItem;
  return {
    session_id: stored.session_id,
    name: stored.name,
    system_prompt: stored.system_prompt ?? null,
    session_start: stored.session_start,
    // An open session's item has no session_end, so that ending can use if_not_exists.
    session_end: stored.session_end ?? null,
    user_id: stored.user_id,
    org_id: stored.org_id,
    message_count: stored.message_count ?? 0,
  };
};

/** Creates a session owned by the caller. */
export async function createSession(db: Db, principal: Principal, input: CreateSessionBody): Promise<Session> {
  const sessionId = newId();
  const session: Session = {
    session_id: sessionId,
    name: input.name ?? DEFAULT_SESSION_NAME,
    system_prompt: input.system_prompt ?? null,
    session_start: new Date().toISOString(),
    session_end: null,
    user_id: principal.userId,
    org_id: principal.orgId,
    message_count: 0,
  };
  const { session_end: _open, ...stored } = session;
  const item: Omit<SessionItem, 'session_end'> = {
    ...keys.session(principal.orgId, sessionId),
    ...keys.sessionOwner(principal.orgId, principal.userId, sessionId),
    entity: 'session',
    ...stored,
  };
  await db.doc.send(new PutCommand({ TableName: db.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
  return session;
}

/**
 * Loads a session the caller may see. Another org's, another user's (unless an admin reads) and a
 * deleted one all answer not found; an admin changing someone else's session is refused.
 */
export async function loadSession(
  db: Db,
  principal: Principal,
  sessionId: string,
  access: Access,
  options: { includeDeleting?: boolean } = {},
): Promise<Session> {
  const { Item } = await db.doc.send(
    new GetCommand({ TableName: db.table, Key: keys.session(principal.orgId, sessionId), ConsistentRead: true }),
  );
  if (!Item || (Item.deleting_at && !options.includeDeleting)) throw notFound('Session');
  if (Item.user_id !== principal.userId) {
    if (!isOrgAdmin(principal)) throw notFound('Session');
    if (access === 'write') {
      throw forbidden("Org admins may read another member's session but not change it.", 'not_session_owner');
    }
  }
  return toSession(Item);
}

/**
 * Reads one item of a session (a message or a task) with a single GetItem: the session's owner is
 * stored on the item, so the session need not be read too (this is the path pollers hit). Items
 * without an owner fall back to reading the session.
 */
export async function loadSessionItem(
  db: Db,
  principal: Principal,
  sessionId: string,
  key: { pk: string; sk: string },
  what: string,
): Promise<Record<string, unknown>> {
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }));
  if (!Item) throw notFound(what);
  if (typeof Item.user_id !== 'string') {
    await loadSession(db, principal, sessionId, 'read');
  } else if (Item.user_id !== principal.userId && !isOrgAdmin(principal)) {
    throw notFound(what);
  }
  return Item;
}

/** Reads one session. */
export async function getSession(db: Db, principal: Principal, sessionId: string): Promise<Session> {
  return loadSession(db, principal, sessionId, 'read');
}

/** Renames, re-prompts or ends a session. Ending is idempotent and keeps the first end time. */
export async function updateSession(
  db: Db,
  principal: Principal,
  sessionId: string,
  patch: UpdateSessionBody,
): Promise<Session> {
  await loadSession(db, principal, sessionId, 'write');
  const sets: string[] = [];
  const values: Record<string, unknown> = { ':owner': principal.userId };
  if (patch.name !== undefined) {
    sets.push('#name = :name');
    values[':name'] = patch.name;
  }
  if (patch.system_prompt !== undefined) {
    sets.push('system_prompt = :prompt');
    values[':prompt'] = patch.system_prompt;
  }
  if (patch.end) {
    sets.push('session_end = if_not_exists(session_end, :now)');
    values[':now'] = new Date().toISOString();
  }
  try {
    const { Attributes } = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.session(principal.orgId, sessionId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND user_id = :owner AND attribute_not_exists(deleting_at)',
        ExpressionAttributeNames: patch.name !== undefined ? { '#name': 'name' } : undefined,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toSession(Attributes ?? {});
  } catch (error) {
    // Deleted between the read and the write.
    if (isConditionFailure(error)) throw notFound('Session');
    throw error;
  }
}

/** The caller's own sessions, newest first, a page at a time; `after` is the last id of the page before. */
export async function listSessions(db: Db, principal: Principal, query: ListSessionsQuery): Promise<Page<Session>> {
  const { byOwnerIndex } = TABLE;
  const owner = keys.sessionOwner(principal.orgId, principal.userId, query.after ?? '');
  // The cursor is only a position: its keys are rebuilt from the caller's own org and user, so an id
  // from elsewhere can never move the query out of the caller's partition.
  const exclusiveStartKey = query.after
    ? { ...owner, ...keys.session(principal.orgId, query.after) }
    : undefined;
  const page = await queryPage(
    db,
    {
      IndexName: byOwnerIndex.name,
      KeyConditionExpression: '#pk = :owner',
      FilterExpression: 'attribute_not_exists(deleting_at)',
      ExpressionAttributeNames: { '#pk': byOwnerIndex.partitionKey },
      ExpressionAttributeValues: { ':owner': owner.gsi1pk },
      ScanIndexForward: false,
    },
    { limit: query.limit, exclusiveStartKey, view: toSession, idOf: (session) => session.session_id },
  );
  if (query.include_last) await attachLastMessages(db, principal.orgId, page.items);
  return page;
}

/** How many last-message reads run at once for one list answer. */
const LAST_MESSAGE_CONCURRENCY = 16;

async function attachLastMessages(db: Db, orgId: string, sessions: Session[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sessions.length) {
      const session = sessions[next++]!;
      session.last_message = await lastMessage(db, orgId, session.session_id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LAST_MESSAGE_CONCURRENCY, sessions.length) }, worker));
}

async function lastMessage(db: Db, orgId: string, sessionId: string): Promise<Message | null> {
  const { Items } = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
      ExpressionAttributeValues: { ':pk': keys.sessionPartition(orgId, sessionId), ':msg': MESSAGE_SK_PREFIX },
      ScanIndexForward: false,
      Limit: 1,
    }),
  );
  const item = Items?.[0];
  return item ? toMessage(item) : null;
}

/**
 * Deletes a session with all its messages and tasks. The session is first marked as being deleted
 * (so it answers 404 at once and takes no new work), then its items go, the session item last, so a
 * delete cut off half-way is finished by the client's retry.
 */
export async function deleteSession(db: Db, principal: Principal, sessionId: string): Promise<void> {
  await loadSession(db, principal, sessionId, 'write', { includeDeleting: true });
  const key = keys.session(principal.orgId, sessionId);
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: key,
      UpdateExpression: 'SET deleting_at = if_not_exists(deleting_at, :now)',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeValues: { ':now': new Date().toISOString() },
    }),
  );
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': key.pk },
        ProjectionExpression: 'pk, sk',
        ExclusiveStartKey: startKey,
      }),
    );
    const children = (page.Items ?? []).filter((item) => item.sk !== SESSION_SK);
    await batchWrite(db, children.map((item) => deleteRequest({ pk: item.pk, sk: item.sk })));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  await batchWrite(db, [deleteRequest(key)]);
}
