/**
 * The per-org rate limit (`takeOrgRateToken`) on dynalite and DynamoDB Local. Time is driven by the
 * `nowMs` parameter only: no test sleeps.
 */
import { AppError } from '../../shared/platform/errors.js';
import { takeOrgRateToken } from '../../shared/rate-limit/org-rate-limit.js';
import type { Db } from '../../shared/store/client.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';
import { appErrorOf as failure } from '../helpers/assertions.js';

/** A minute boundary near the real clock (so TTL values stay in the future), and seconds after it. */
const T0 = Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
const at = (seconds: number): number => T0 + Math.round(seconds * 1000);

/** Takes `count` tokens one after the other, all at `nowMs`. */
async function takeMany(db: Db, orgId: string, limit: number, count: number, nowMs: number): Promise<void> {
  for (let i = 0; i < count; i++) await takeOrgRateToken(db, orgId, limit, nowMs);
}

/** Whether a take passes (true) or is refused with rate_limited (false); anything else fails the test. */
async function passes(db: Db, orgId: string, limit: number, nowMs: number): Promise<boolean> {
  try {
    await takeOrgRateToken(db, orgId, limit, nowMs);
    return true;
  } catch (error) {
    if (error instanceof AppError && error.kind === 'rate_limited') return false;
    throw error;
  }
}

describe.each(BACKENDS)('org rate limit on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => (db = table));

  it('lets `limit` takes through within a minute, then refuses with a 429 that says the limit and when to retry', async () => {
    for (let i = 0; i < 5; i++) await takeOrgRateToken(db, 'org_clinic', 5, at(1 + i));
    const refused = await failure(takeOrgRateToken(db, 'org_clinic', 5, at(6)));
    expect(refused).toMatchObject({ kind: 'rate_limited', code: 'rate_limited' });
    expect(refused.message).toMatch(/limit of 5 asks and tasks per minute/);
    const retryAfter = refused.details.retryAfterSeconds!;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(70);
    expect(refused.message).toContain(`Try again in ${retryAfter} seconds.`);
    // A refused take takes nothing: refusing again at once says the same.
    expect((await failure(takeOrgRateToken(db, 'org_clinic', 5, at(6)))).details.retryAfterSeconds).toBe(retryAfter);
    // Waiting what it said is enough.
    await expect(takeOrgRateToken(db, 'org_clinic', 5, at(6) + retryAfter * 1000)).resolves.toBeUndefined();
  });

  it('gives a Retry-After that works however the takes were spread, also when refused on past buckets', async () => {
    await takeMany(db, 'org_clinic', 4, 2, at(5));
    await takeMany(db, 'org_clinic', 4, 2, at(35));
    const refused = await failure(takeOrgRateToken(db, 'org_clinic', 4, at(44)));
    const retryAfter = refused.details.retryAfterSeconds!;
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    await expect(takeOrgRateToken(db, 'org_clinic', 4, at(44) + retryAfter * 1000)).resolves.toBeUndefined();

    // Refused with every counted take in the past buckets (the current bucket is empty).
    const other = 'org_lawfirm';
    await takeMany(db, other, 3, 3, at(58));
    const later = await failure(takeOrgRateToken(db, other, 3, at(103.5)));
    const wait = later.details.retryAfterSeconds!;
    expect(Number.isInteger(wait)).toBe(true);
    expect(wait).toBeGreaterThanOrEqual(1);
    await expect(takeOrgRateToken(db, other, 3, at(103.5) + wait * 1000)).resolves.toBeUndefined();
  });

  it('never lets a 60-second window that straddles buckets hold more than the limit', async () => {
    await takeMany(db, 'org_clinic', 3, 3, at(55));
    // The window [5 s, 65 s] already holds 3: refused, though t=65 is in a new bucket and a new minute.
    expect(await passes(db, 'org_clinic', 3, at(65))).toBe(false);
    expect(await passes(db, 'org_clinic', 3, at(100))).toBe(false);
    expect(await passes(db, 'org_clinic', 3, at(114.999))).toBe(false);
    // Once the takes at 55 s are more than a minute (and a bucket) old, the org may start again.
    expect(await passes(db, 'org_clinic', 3, at(120))).toBe(true);
  });

  it('frees older buckets as they slide out of the minute, one by one', async () => {
    await takeMany(db, 'org_clinic', 4, 2, at(5));
    await takeMany(db, 'org_clinic', 4, 2, at(35));
    expect(await passes(db, 'org_clinic', 4, at(64))).toBe(false); // [4 s, 64 s] holds all four
    // At 70 s the takes at 5 s are out; the two at 35 s still count, so two more pass, not three.
    expect(await passes(db, 'org_clinic', 4, at(70))).toBe(true);
    expect(await passes(db, 'org_clinic', 4, at(71))).toBe(true);
    expect(await passes(db, 'org_clinic', 4, at(72))).toBe(false);
  });

  it('keeps "at most `limit` in any 60-second window" over minutes of irregular traffic', async () => {
    const limit = 7;
    const granted: number[] = [];
    // A fixed pseudo-random walk (no Math.random: the same times on every run).
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let t = at(0);
    for (let i = 0; i < 160; i++) {
      t += Math.floor(next() * 3000);
      if (await passes(db, 'org_clinic', limit, t)) granted.push(t);
    }
    // Every closed 60-second window, starting at any granted take, holds at most `limit` of them.
    for (const startMs of granted) {
      const inWindow = granted.filter((g) => g >= startMs && g <= startMs + 60_000).length;
      expect(inWindow).toBeLessThanOrEqual(limit);
    }
    // And the limiter is not simply shut: about a minute and a bit's worth passes per 70 s.
    const spanMinutes = (granted.at(-1)! - granted[0]!) / 60_000;
    expect(granted.length).toBeGreaterThanOrEqual(Math.floor(spanMinutes * limit * (60 / 70)));
  });

  it('counts each organization on its own', async () => {
    await takeMany(db, 'org_clinic', 2, 2, at(1));
    expect(await passes(db, 'org_clinic', 2, at(2))).toBe(false);
    await takeMany(db, 'org_lawfirm', 2, 2, at(2));
    expect(await passes(db, 'org_lawfirm', 2, at(3))).toBe(false);
    // An org whose id starts like another's shares nothing with it either.
    await takeMany(db, 'org_clinic_two', 2, 2, at(3));
  });

  it('is atomic across instances: 30 concurrent takes with limit 10 let exactly 10 through', async () => {
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => takeOrgRateToken(db, 'org_clinic', 10, at(12))));
    const passed = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(passed).toHaveLength(10);
    expect(refused).toHaveLength(20);
    for (const { reason } of refused) expect(reason).toMatchObject({ kind: 'rate_limited', code: 'rate_limited' });
    expect(await passes(db, 'org_clinic', 10, at(19))).toBe(false);
  });

  it('is atomic when past buckets already hold part of the limit, and at different moments of one bucket', async () => {
    await takeMany(db, 'org_clinic', 10, 6, at(48));
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => takeOrgRateToken(db, 'org_clinic', 10, at(60 + (i % 10) * 0.9))),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(4);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ kind: 'rate_limited' });
    }
  });

  it('lets no more than the limit through a bucket boundary, whatever the interleaving', async () => {
    // 60 takes just before a multiple of 10 s and 60 just after, all at once: in any 60 seconds, at most 20.
    const before = Array.from({ length: 60 }, () => passes(db, 'org_burst', 20, at(9.999)));
    const after = Array.from({ length: 60 }, () => passes(db, 'org_burst', 20, at(10.001)));
    const results = await Promise.all(before.flatMap((take, index) => [take, after[index]!]));
    expect(results.filter(Boolean).length).toBe(20);
    // A minute later there is room again.
    expect(await passes(db, 'org_burst', 20, at(80.5))).toBe(true);
  }, 60_000);
});
