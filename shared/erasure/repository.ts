import { QueryCommand } from '@aws-sdk/lib-dynamodb';
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
