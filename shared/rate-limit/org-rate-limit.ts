import { AppError } from '../platform/errors.js';
import { addMetric, MetricUnit } from '../platform/observability.js';
import type { Db } from '../store/client.js';
import { dynamoRateWindowRepository, type RateWindowRepository } from './repository.js';

const BUCKET_SECONDS = 10;
/** Buckets counted besides the current one: together they cover every 60-second window ending now. */
const PAST_BUCKETS = 60 / BUCKET_SECONDS;
/** Reads and writes of one take when the window keeps changing under it (many takes at a bucket boundary). */
const MAX_TRIES = 25;

/** Takes one of an organization's starts for this minute, or refuses with 429 `rate_limited`. */
export type RateLimiter = (orgId: string, limit: number, nowMs?: number) => Promise<void>;

/**
 * The per-organization limit of asks and tasks per minute.
 *
 * Counts live in 10-second buckets on one item per organization. A take reads the window (or starts
 * from the window as this process last wrote it: one write instead of a read and a write), and adds
 * one to the current bucket on condition that, at the moment of writing, every bucket it counted
 * still holds what it read, the current one has room, and no newer bucket was written (a take whose
 * clock is behind joins the newest bucket). So each accepted take saw exactly what the window held
 * when it was counted in, under any interleaving: the counted span (the current bucket and the six
 * before it) covers every 60-second window ending now, and none holds more than the limit. Takes
 * within one bucket do not conflict (their condition is only the room left); at a boundary they
 * read again.
 */
export function orgRateLimiter(window: RateWindowRepository, what = 'asks and tasks'): RateLimiter {
  return async (orgId, limit, nowMs = Date.now()) => {
    const now = Math.floor(nowMs / 1000);
    for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
      // The first try starts from the window as this process last wrote it (no read), if it did.
      const seen = await window.read(orgId, { cached: attempt === 1 });
      const start = Math.max(now - (now % BUCKET_SECONDS), seen.latest ?? 0);
      const counted = Array.from({ length: PAST_BUCKETS }, (_, index) => start - (PAST_BUCKETS - index) * BUCKET_SECONDS);
      const past = counted.reduce((sum, bucket) => sum + (seen.counts.get(bucket) ?? 0), 0);
      const current = seen.counts.get(start) ?? 0;
      if (past + current >= limit) {
        const busy = [...counted, start].filter((bucket) => (seen.counts.get(bucket) ?? 0) > 0);
        const earliest = busy.length ? Math.min(...busy) : start;
        const retryAfter = Math.max(1, earliest + (PAST_BUCKETS + 1) * BUCKET_SECONDS - now);
        addMetric('RateLimited', MetricUnit.Count, 1);
        throw new AppError(
          'rate_limited',
          'rate_limited',
          `Your organization has reached its limit of ${limit} ${what} per minute. Try again in ${retryAfter} seconds.`,
          { retryAfterSeconds: retryAfter },
        );
      }
      const taken = await window.add(orgId, {
        start,
        room: limit - past,
        seen,
        counted,
        oldest: counted[0]!,
        expiresAt: start + BUCKET_SECONDS + 60,
      });
      if (taken) return;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
    throw new AppError('unavailable', 'rate_limit_busy', 'Too many requests of your organization arrived at once to count them. Try again in a moment.', {
      retryAfterSeconds: 1,
    });
  };
}

/** The limiter of list reads: a window of their own, a limit of their own. */
export const orgReadLimiter = (window: RateWindowRepository): RateLimiter => orgRateLimiter(window, 'list reads');

/** The limiter on a table: `takeOrgRateToken(db, orgId, limit)`. */
export const takeOrgRateToken = (db: Db, orgId: string, limit: number, nowMs?: number): Promise<void> =>
  orgRateLimiter(dynamoRateWindowRepository(db))(orgId, limit, nowMs);
