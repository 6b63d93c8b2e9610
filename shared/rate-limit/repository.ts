import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';

/** One bucket's count as stored: one item per org and 10-second bucket, removed by TTL. */
export interface RateBucketItem {
  pk: string;
  /** `B#<bucket start, epoch seconds, 12 digits>`: buckets sort by time. */
  sk: string;
  entity: 'rate_counter';
  n: number;
  /** The bucket's start, epoch seconds. */
  start: number;
  expires_at: number;
}

/** The rate counters' data access; the rule is in ./org-rate-limit.ts. */
export interface RateBucketRepository {
  /** The buckets of an org starting from `fromStart` to `toStart` (epoch seconds, inclusive). */
  buckets(orgId: string, fromStart: number, toStart: number): Promise<Array<Pick<RateBucketItem, 'n' | 'start'>>>;
  /** Adds one to a bucket if it holds fewer than `room`; false when it was full. */
  addIfRoom(orgId: string, start: number, room: number, expiresAt: number): Promise<boolean>;
}

const bucketSk = (startSeconds: number): string => `B#${String(startSeconds).padStart(12, '0')}`;

/** The rate counters on the single table. */
export function dynamoRateBucketRepository(db: Db): RateBucketRepository {
  return {
    async buckets(orgId, fromStart, toStart) {
      const { Items = [] } = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':pk': keys.rateCounter(orgId), ':from': bucketSk(fromStart), ':to': bucketSk(toStart) },
          ConsistentRead: true,
        }),
      );
      return Items.map((item) => ({ n: Number(item.n ?? 0), start: Number(item.start) }));
    },

    async addIfRoom(orgId, start, room, expiresAt) {
      try {
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: { pk: keys.rateCounter(orgId), sk: bucketSk(start) },
            UpdateExpression: 'ADD n :one SET #start = :start, expires_at = :expires, entity = :entity',
            ConditionExpression: 'attribute_not_exists(n) OR n < :room',
            ExpressionAttributeNames: { '#start': 'start' },
            ExpressionAttributeValues: { ':one': 1, ':room': room, ':start': start, ':expires': expiresAt, ':entity': 'rate_counter' },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },
  };
}
