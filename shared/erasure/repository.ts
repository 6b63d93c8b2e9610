import { GetCommand, PutCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { defaultDb, type Db } from '../store/client.js';
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

/** When a user's data was last erased (`requested_at`), if it was. */
export type ErasedAt = (orgId: string, userId: string) => Promise<string | undefined>;
/** How long an instance trusts what it read of a user's erasure. */
const ERASURE_TRUST_MS = 5_000;
const LOOKUPS_KEPT = 10_000;

/**
 * When each user's data was last erased, read from the erasure records and kept per instance for 5
 * seconds. The item routes use it so that what an erasure has not swept yet is never shown: the
 * record is written before the erasure starts, and a request that leaves anything for a queued pass
 * runs longer than that before it answers.
 * @example if ((await erasedAt(orgId, item.user_id)) >= item.created_at) throw notFound('Message');
 */
export function cachedErasures(db: Db): ErasedAt {
  const known = new Map<string, { at?: string; until: number }>();
  return async (orgId, userId) => {
    const key = `${orgId}\n${userId}`;
    const hit = known.get(key);
    if (hit && hit.until > Date.now()) return hit.at;
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.erasure(orgId, userId), ConsistentRead: true }));
    if (known.size >= LOOKUPS_KEPT) known.clear();
    const at = Item ? String(Item.requested_at) : undefined;
    known.set(key, { at, until: Date.now() + ERASURE_TRUST_MS });
    return at;
  };
}

let shared: ErasedAt | undefined;

/** This process's erasure lookups on its table (TABLE_NAME), shared by every service that reads. */
export function defaultErasures(): ErasedAt {
  return (shared ??= cachedErasures(defaultDb()));
}

/**
 * Whether the organization holds anything of a user's: a session (being deleted or not), an
 * idempotency record, or a usage row (the last, a query of the organization's user rows, only when
 * the others found nothing).
 */
export async function holdsDataOf(db: Db, orgId: string, userId: string): Promise<boolean> {
  const any = async (input: Omit<QueryCommandInput, 'TableName'>) => {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await db.doc.send(new QueryCommand({ TableName: db.table, ...input, ExclusiveStartKey: startKey }));
      if (page.Items?.length) return true;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return false;
  };
  const [sessions, records] = await Promise.all([
    any({
      IndexName: TABLE.byOwnerIndex.name,
      KeyConditionExpression: '#pk = :owner',
      ExpressionAttributeNames: { '#pk': TABLE.byOwnerIndex.partitionKey },
      ExpressionAttributeValues: { ':owner': keys.sessionOwner(orgId, userId, '').gsi1pk },
      Limit: 1,
    }),
    any({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': keys.idempotencyPartition(orgId, userId) }, Limit: 1 }),
  ]);
  if (sessions || records) return true;
  return any({
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :userDays)',
    FilterExpression: 'user_id = :user',
    ProjectionExpression: 'pk',
    ExpressionAttributeValues: { ':pk': keys.usagePartition(orgId), ':userDays': 'UDAY#', ':user': userId },
  });
}
