import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AppError } from './errors.js';
import { metrics, MetricUnit } from './observability.js';
import { isConditionFailure, type Db } from './store/db.js';
import { keys } from './store/keys.js';

const BUCKET_SECONDS = 10;
/** Buckets counted besides the current one: together they cover every 60-second window ending now. */
const PAST_BUCKETS = 60 / BUCKET_SECONDS;

const bucketSk = (startSeconds: number): string => `B#${String(startSeconds).padStart(12, '0')}`;

/**
 * Takes one of an organization's starts (asks and ctx tasks) for this minute, or refuses with 429.
 *
 * Counts live in 10-second buckets, one item each. Past buckets no longer change, so reading them
 * and then adding to the current bucket under the condition `n < limit - past` is atomic across
 * every Lambda instance. The counted span (the current bucket and the six before it) always covers
 * the last 60 seconds, so no 60-second window ever holds more than the limit.
 */
export async function takeOrgRateToken(db: Db, orgId: string, limit: number, nowMs = Date.now()): Promise<void> {
  const now = Math.floor(nowMs / 1000);
  const current = now - (now % BUCKET_SECONDS);
  const pk = keys.rateCounter(orgId);
  const { Items = [] } = await db.doc.send(
    new QueryCommand({
      TableName: db.table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': pk,
        ':from': bucketSk(current - PAST_BUCKETS * BUCKET_SECONDS),
        ':to': bucketSk(current - BUCKET_SECONDS),
      },
      ConsistentRead: true,
    }),
  );
  const past = Items.reduce((sum, item) => sum + Number(item.n ?? 0), 0);
  const refuse = (): never => {
    const counted = Items.filter((item) => Number(item.n) > 0).map((item) => Number(item.start));
    const earliest = counted.length ? Math.min(...counted) : current;
    const retryAfter = Math.max(1, earliest + (PAST_BUCKETS + 1) * BUCKET_SECONDS - now);
    metrics.addMetric('RateLimited', MetricUnit.Count, 1);
    throw new AppError(
      'rate_limited',
      'rate_limited',
      `Your organization has reached its limit of ${limit} asks and tasks per minute. Try again in ${retryAfter} seconds.`,
      { retryAfterSeconds: retryAfter },
    );
  };
  if (past >= limit) refuse();
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: { pk, sk: bucketSk(current) },
        UpdateExpression: 'ADD n :one SET #start = :start, expires_at = :expires, entity = :entity',
        ConditionExpression: 'attribute_not_exists(n) OR n < :room',
        ExpressionAttributeNames: { '#start': 'start' },
        ExpressionAttributeValues: {
          ':one': 1,
          ':room': limit - past,
          ':start': current,
          ':expires': current + 3 * 60,
          ':entity': 'rate_counter',
        },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) refuse();
    throw error;
  }
}
