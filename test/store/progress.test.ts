/** An answer's progress items (jobs/progress.ts) against dynalite and DynamoDB Local. */
import { liveWriter, markCancelled, readProgress } from '../../shared/jobs/progress.js';
import { newId } from '../../shared/platform/ids.js';
import type { Db } from '../../shared/store/client.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';

const ORG = 'org_clinic';

describe.each(BACKENDS)('progress on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => {
    db = table;
  });
  const newRef = () => ({ orgId: ORG, sessionId: newId(), itemId: newId() });

  it('commits parts in order and reads them back, from a given part on', async () => {
    const ref = newRef();
    const writer = liveWriter(db, ref, 'worker-1', 1);
    // Before its first write a try holds the item (nothing is written for an answer that comes in one piece).
    expect(await writer.stillHeld()).toBe(true);
    expect(await readProgress(db, ref)).toBeUndefined();
    for (const part of ['Hel', 'lo ', 'world']) expect(await writer.append(part)).toBe(true);
    expect(await readProgress(db, ref)).toEqual({ text: 'Hello world', seq: 3 });
    expect(await readProgress(db, ref, 2)).toEqual({ text: 'world', seq: 3 });
    expect(await writer.stillHeld()).toBe(true);
  });

  it('lets a later try take over, and never lets an earlier try that writes late take the head back', async () => {
    const ref = newRef();
    const second = liveWriter(db, ref, 'worker-2', 2);
    expect(await second.append('Second try')).toBe(true);
    // The first try's worker stalled past its lease and only now writes: it must not stop the second.
    const first = liveWriter(db, ref, 'worker-1', 1);
    expect(await first.stillHeld()).toBe(false);
    expect(await first.append('First try')).toBe(false);
    expect(await second.append(', whole')).toBe(true);
    expect(await second.stillHeld()).toBe(true);
    expect((await readProgress(db, ref))?.text).toBe('Second try, whole');
    // A third try takes it over: the second's next write finds it lost.
    const third = liveWriter(db, ref, 'worker-3', 3);
    expect(await third.stillHeld()).toBe(true);
    expect(await third.append('Third')).toBe(true);
    expect(await second.append('!')).toBe(false);
    expect(await second.stillHeld()).toBe(false);
    expect(await readProgress(db, ref)).toEqual({ text: 'Third', seq: 1 });
  });

  it('commits nothing after a cancel, and a try that starts after it learns of the cancel', async () => {
    const ref = newRef();
    const writer = liveWriter(db, ref, 'worker-1', 1);
    expect(await writer.append('Before')).toBe(true);
    await markCancelled(db, ref, new Date().toISOString());
    expect(await writer.append(' after')).toBe(false);
    expect(await readProgress(db, ref)).toMatchObject({ text: 'Before', cancelledAt: expect.any(String) });
    const later = liveWriter(db, ref, 'worker-2', 2);
    expect(await later.stillHeld()).toBe(false);
    expect(await later.append('After the cancel')).toBe(false);
    expect((await readProgress(db, ref))?.text).toBe('Before');
  });
});
