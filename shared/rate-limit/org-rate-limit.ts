import { AppError } from '../platform/errors.js';
import { addMetric, MetricUnit } from '../platform/observability.js';
import type { Db } from '../store/client.js';
import { dynamoRateBucketRepository, type RateBucketRepository } from './repository.js';

const BUCKET_SECONDS = 10;
/** Buckets counted besides the current one: together they cover every 60-second window ending now. */
const PAST_BUCKETS = 60 / BUCKET_SECONDS;

/** Takes one of an organization's starts for this minute, or refuses with 429 `rate_limited`. */
export type RateLimiter = (orgId: string, limit: number, nowMs?: number) => Promise<void>;

/**
 * The per-organization limit of asks and tasks per minute.
 *
 * Counts live in 10-second buckets, one item each. Past buckets no longer change, so reading them
 * and then adding to the current bucket under the condition `n < limit - past` is atomic across
 * every Lambda instance. The counted span (the current bucket and the six before it) always covers
 * the last 60 seconds, so no 60-second window ever holds more than the limit.
 */
export function orgRateLimiter(buckets: RateBucketRepository): RateLimiter {
  return async (orgId, limit, nowMs = Date.now()) => {
    const now = Math.floor(nowMs / 1000);
    const current = now - (now % BUCKET_SECONDS);
    const past = await buckets.buckets(orgId, current - PAST_BUCKETS * BUCKET_SECONDS, current - BUCKET_SECONDS);
    const counted = past.reduce((sum, bucket) => sum + bucket.n, 0);
    const refuse = (): never => {
      const starts = past.filter((bucket) => bucket.n > 0).map((bucket) => bucket.start);
      const earliest = starts.length ? Math.min(...starts) : current;
      const retryAfter = Math.max(1, earliest + (PAST_BUCKETS + 1) * BUCKET_SECONDS - now);
      addMetric('RateLimited', MetricUnit.Count, 1);
      throw new AppError(
        'rate_limited',
        'rate_limited',
        `Your organization has reached its limit of ${limit} asks and tasks per minute. Try again in ${retryAfter} seconds.`,
        { retryAfterSeconds: retryAfter },
      );
    };
    if (counted >= limit) refuse();
    if (!(await buckets.addIfRoom(orgId, current, limit - counted, current + 3 * 60))) refuse();
  };
}

/** The limiter on a table: `takeOrgRateToken(db, orgId, limit)`. */
export const takeOrgRateToken = (db: Db, orgId: string, limit: number, nowMs?: number): Promise<void> =>
  orgRateLimiter(dynamoRateBucketRepository(db))(orgId, limit, nowMs);
