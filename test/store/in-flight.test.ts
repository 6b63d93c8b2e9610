/** An organization's places in flight (jobs/in-flight.ts) against dynalite and DynamoDB Local. */
import { orgInFlight } from '../../shared/jobs/in-flight.js';
import { newId } from '../../shared/platform/ids.js';
import type { Db } from '../../shared/store/client.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';

describe.each(BACKENDS)('places in flight on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => {
    db = table;
  });
  const later = () => Date.now() + 60_000;

  it('gives at most `cap` places at once, however many ask at the same moment, and takes them back when released', async () => {
    const places = orgInFlight(db);
    const org = `org_${newId()}`;
    const claimers = Array.from({ length: 30 }, (_, i) => `worker-${i}`);
    const taken = await Promise.all(claimers.map((claimer) => places.acquire(org, claimer, 4, later())));
    expect(taken.filter(Boolean)).toHaveLength(4);
    expect(await places.count(org)).toBe(4);
    // Another organization has places of its own.
    expect(await places.acquire(`org_${newId()}`, 'worker-0', 4, later())).toBe(true);
    const holders = claimers.filter((_, i) => taken[i]);
    await places.release(org, holders[0]!);
    await places.release(org, holders[0]!); // a second release changes nothing
    expect(await places.count(org)).toBe(3);
    expect(await places.acquire(org, 'newcomer', 4, later())).toBe(true);
    expect(await places.acquire(org, 'one-too-many', 4, later())).toBe(false);
  });

  it('takes back a place whose lease ran out (its worker died) when all are taken', async () => {
    const places = orgInFlight(db);
    const org = `org_${newId()}`;
    expect(await places.acquire(org, 'dead-worker', 2, Date.now() + 50)).toBe(true);
    expect(await places.acquire(org, 'live-worker', 2, later())).toBe(true);
    expect(await places.acquire(org, 'waiting-worker', 2, later())).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await places.acquire(org, 'waiting-worker', 2, later())).toBe(true);
    expect(await places.count(org)).toBe(2);
    // The dead worker's late release does not give back someone else's place.
    await places.release(org, 'dead-worker');
    expect(await places.count(org)).toBe(2);
  });
});
