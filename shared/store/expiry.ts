import { env } from '../platform/env.js';

/**
 * Now, in epoch seconds, as the table's TTL counts it. Locally `LOCAL_CLOCK_OFFSET_SECONDS` moves
 * it (tests of retention: a day cannot be waited for); never set in a deployment.
 */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000) + env.clockOffsetSeconds();

/**
 * Whether an item is past its retention (`expires_at`, the table's TTL attribute): DynamoDB removes
 * such items within days, not at once, so every read leaves them out itself.
 */
export const isExpired = (item: { expires_at?: unknown } | undefined): boolean => typeof item?.expires_at === 'number' && item.expires_at <= nowSeconds();

/** The item, or undefined when it is past its retention. */
export const unexpired = <T extends { expires_at?: unknown }>(item: T | undefined): T | undefined => (item && !isExpired(item) ? item : undefined);
