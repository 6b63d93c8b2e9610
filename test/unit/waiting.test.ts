/**
 * `?wait=`: the reads a waiting GET makes. An answer that finishes soon is seen soon (a zero-latency
 * model answers in tens of milliseconds), and a long wait costs a bounded number of reads.
 */
import { readUntilFinished, WAIT_POLL_MS } from '../../shared/jobs/waiting.js';

it('looks again soon at first, then at most every WAIT_POLL_MS, and stops once finished', async () => {
  const readsAt: number[] = [];
  const started = Date.now();
  const finishAt = started + 1500;
  const last = await readUntilFinished(
    async () => {
      readsAt.push(Date.now() - started);
      return Date.now() >= finishAt;
    },
    (finished) => finished,
    5,
  );
  expect(last).toBe(true);
  // Early reads: an answer finished 30 ms after the ask is seen well before WAIT_POLL_MS.
  expect(readsAt.filter((at) => at < WAIT_POLL_MS).length).toBeGreaterThanOrEqual(4);
  const gaps = readsAt.slice(1).map((at, index) => at - readsAt[index]!);
  expect(Math.max(...gaps)).toBeLessThanOrEqual(WAIT_POLL_MS + 50);
  // Bounded: about four reads a second once past the start.
  expect(readsAt.length).toBeLessThanOrEqual(4 + Math.ceil(1500 / WAIT_POLL_MS) + 1);
  expect(readsAt.at(-1)).toBeLessThan(1500 + WAIT_POLL_MS + 50);
});

it('reads once without a wait', async () => {
  let reads = 0;
  expect(await readUntilFinished(async () => ++reads, () => false)).toBe(1);
  expect(reads).toBe(1);
});
