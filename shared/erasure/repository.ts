import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { TABLE } from '../store/table.js';

/** A session an erasure finds: its id and start. */
export interface OwnedSession {
  session_id: string;
  session_start: string;
}

/**
 * A page of a user's sessions, being deleted, past their retention or not (the owner index); `next`
 * is the cursor of the page after, if any. The index is eventually consistent: a session created a
 * moment ago may be missing, which the erasure's last pass makes up for.
 */
export async function sessionsOfUser(db: Db, orgId: string, userId: string, cursor?: Record<string, unknown>): Promise<{ sessions: OwnedSession[]; next?: Record<string, unknown> }> {
  const { Items = [], LastEvaluatedKey } = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      IndexName: TABLE.byOwnerIndex.name,
      KeyConditionExpression: '#pk = :owner',
      ExpressionAttributeNames: { '#pk': TABLE.byOwnerIndex.partitionKey },
      ExpressionAttributeValues: { ':owner': keys.sessionOwner(orgId, userId, '').gsi1pk },
      ProjectionExpression: 'session_id, session_start',
      ExclusiveStartKey: cursor,
    }),
  );
  const sessions = Items.map((item) => ({ session_id: String(item.session_id), session_start: String(item.session_start) }));
  return { sessions, ...(LastEvaluatedKey ? { next: LastEvaluatedKey } : {}) };
}

/** How long the record of an erasure is kept: a repeated request in that time is answered as the first. */
const ERASURE_RECORD_DAYS = 90;

/**
 * Records that a user's data was erased in an organization (who asked, and when), so that asking
 * again answers as the first time did, after the data is gone. It holds no data of the user's but the id.
 */
export async function recordErasure(db: Db, orgId: string, userId: string, requestedAt: string, requestedBy: string): Promise<void> {
  await db.doc.send(
    new PutCommand({
      TableName: db.table,
      Item: {
        ...keys.erasure(orgId, userId),
        entity: 'erasure',
        requested_at: requestedAt,
        requested_by: requestedBy,
        [TABLE.ttlAttribute]: Math.floor(Date.parse(requestedAt) / 1000) + ERASURE_RECORD_DAYS * 86_400,
      },
    }),
  );
}

/** Whether the user's data was erased in the organization in the last 90 days. */
export async function wasErased(db: Db, orgId: string, userId: string): Promise<boolean> {
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.erasure(orgId, userId), ConsistentRead: true }));
  return Boolean(Item);
}
