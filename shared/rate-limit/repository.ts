import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';

/**
 * An organization's rate window as stored: one item holding the count of each recent 10-second
 * bucket (`b<start>`, start in epoch seconds) and the newest bucket counted in (`latest`).
 */
export interface RateWindowItem {
  pk: string;
  /** `WINDOW` for asks and tasks, `READS` for list reads. */
  sk: RateWindowName;
  entity: 'rate_window';
  /** The newest bucket start written: a take for an older bucket is moved to this one. */
  latest?: number;
  /** Epoch seconds (the table's TTL): a minute after the newest bucket ends. */
  expires_at?: number;
  [bucket: `b${number}`]: number;
}

/** Which of an organization's windows: asks and tasks, or list reads. */
export type RateWindowName = 'WINDOW' | 'READS';

/** The counts of a window as read: bucket start → count. */
export interface RateWindow {
  latest: number | undefined;
  counts: Map<number, number>;
}

/** The rate window's data access; the rule is in ./org-rate-limit.ts. */
export interface RateWindowRepository {
  /**
   * The window as stored; with `cached`, as this process last wrote it, if it did (no read): a take
   * checks every bucket it counted when it writes, so a window that changed since only costs a retry.
   */
  read(orgId: string, options?: { cached?: boolean }): Promise<RateWindow>;
  /**
   * Adds one to bucket `start` if, at the moment of writing, the window is still as `seen` was in
   * every bucket of `counted` and `start` holds fewer than `room`, and no newer bucket was written.
   * Buckets older than `oldest` are dropped. False when the window had changed: read again.
   */
  add(orgId: string, take: { start: number; room: number; seen: RateWindow; counted: number[]; oldest: number; expiresAt: number }): Promise<boolean>;
}

const attribute = (start: number) => `b${start}`;

/** The windows this process wrote last, per table, window and org (a warm Lambda's next take starts from it). */
const lastWritten = new Map<string, RateWindow>();
const LAST_WRITTEN_MAX = 1000;

/** The rate window `window` of each organization on the single table. */
export function dynamoRateWindowRepository(db: Db, window: RateWindowName = 'WINDOW'): RateWindowRepository {
  const key = (orgId: string) => ({ pk: keys.rateCounter(orgId), sk: window });
  const cacheKey = (orgId: string) => `${db.table}|${window}|${orgId}`;
  return {
    async read(orgId, options = {}) {
      const cached = options.cached ? lastWritten.get(cacheKey(orgId)) : undefined;
      if (cached) return { latest: cached.latest, counts: new Map(cached.counts) };
      const Item = (await db.doc.send(new GetCommand({ TableName: db.table, Key: key(orgId), ConsistentRead: true }))).Item as RateWindowItem | undefined;
      const counts = new Map<number, number>();
      for (const [name, value] of Object.entries(Item ?? {})) if (/^b\d+$/.test(name)) counts.set(Number(name.slice(1)), Number(value));
      return { latest: Item?.latest === undefined ? undefined : Number(Item.latest), counts };
    },

    async add(orgId, { start, room, seen, counted, oldest, expiresAt }) {
      const names: Record<string, string> = { '#cur': attribute(start) };
      const values: Record<string, unknown> = { ':start': start, ':room': room, ':one': 1, ':zero': 0, ':expires': expiresAt, ':entity': 'rate_window' };
      const conditions = ['(attribute_not_exists(latest) OR latest <= :start)', '(attribute_not_exists(#cur) OR #cur < :room)'];
      counted.forEach((bucket, index) => {
        names[`#p${index}`] = attribute(bucket);
        const count = seen.counts.get(bucket);
        if (count === undefined) conditions.push(`attribute_not_exists(#p${index})`);
        else {
          values[`:p${index}`] = count;
          conditions.push(`#p${index} = :p${index}`);
        }
      });
      const stale = [...seen.counts.keys()].filter((bucket) => bucket < oldest);
      stale.forEach((bucket, index) => (names[`#old${index}`] = attribute(bucket)));
      try {
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: key(orgId),
            UpdateExpression: `SET latest = :start, #cur = if_not_exists(#cur, :zero) + :one, expires_at = :expires, entity = :entity${
              stale.length ? ` REMOVE ${stale.map((_, index) => `#old${index}`).join(', ')}` : ''
            }`,
            ConditionExpression: conditions.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
        // What the window now holds, for this process's next take.
        const counts = new Map([...seen.counts].filter(([bucket]) => bucket >= oldest));
        counts.set(start, (counts.get(start) ?? 0) + 1);
        if (lastWritten.size >= LAST_WRITTEN_MAX) lastWritten.delete(lastWritten.keys().next().value!);
        lastWritten.set(cacheKey(orgId), { latest: start, counts });
        return true;
      } catch (error) {
        lastWritten.delete(cacheKey(orgId));
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },
  };
}
