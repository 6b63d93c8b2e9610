/**
 * The progress pump: what the model streams is written in order, at a bounded rate, and a write
 * that fails keeps its text for the next one. A sink in memory stands in for the store.
 */
import { HEARTBEAT_MS, PROGRESS_INTERVAL_MS, progressPump, type ProgressSink } from '../../shared/jobs/progress-pump.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A sink that records what it committed; `slowFailures` of the first writes take `slowMs` and then fail. */
function memorySink(options: { slowFailures?: number; slowMs?: number } = {}) {
  const committed: string[] = [];
  let failuresLeft = options.slowFailures ?? 0;
  let writes = 0;
  const sink: ProgressSink = {
    async append(text) {
      writes++;
      if (failuresLeft > 0) {
        failuresLeft--;
        await sleep(options.slowMs ?? 0);
        throw new Error('the store is busy');
      }
      committed.push(text);
      return true;
    },
    async stillHeld() {
      return true;
    },
  };
  return { sink, committed, writes: () => writes };
}

it('commits the text in the order it came when a slow write fails while more text arrives', async () => {
  const { sink, committed } = memorySink({ slowFailures: 1, slowMs: PROGRESS_INTERVAL_MS * 3 });
  const errors: unknown[] = [];
  const pump = progressPump(sink, new AbortController(), (error) => errors.push(error));
  const words = ['one ', 'two ', 'three ', 'four ', 'five '];
  for (const word of words) {
    pump.add(word);
    await sleep(PROGRESS_INTERVAL_MS + 20);
  }
  // The first write fails after the later words came: they follow it once it is written again.
  await sleep(PROGRESS_INTERVAL_MS * 4);
  await pump.close();
  expect(errors).toHaveLength(1);
  expect(committed.join('')).toBe(words.join(''));
});

it('writes at most once per interval however fast the text comes', async () => {
  const { sink, committed, writes } = memorySink();
  const pump = progressPump(sink, new AbortController(), () => undefined);
  const started = Date.now();
  for (let i = 0; i < 200; i++) {
    pump.add(`${i} `);
    if (i % 20 === 0) await sleep(25);
  }
  await sleep(PROGRESS_INTERVAL_MS + 50);
  await pump.close();
  const elapsed = Date.now() - started;
  expect(writes()).toBeLessThanOrEqual(Math.ceil(elapsed / PROGRESS_INTERVAL_MS) + 1);
  expect(committed.join('')).toBe(Array.from({ length: 200 }, (_, i) => `${i} `).join(''));
});

it('stops the model call when the sink finds the claim lost or a cancel', async () => {
  const stop = new AbortController();
  const pump = progressPump({ append: async () => false, stillHeld: async () => true }, stop, () => undefined);
  pump.add('text');
  await sleep(PROGRESS_INTERVAL_MS + 50);
  await pump.close();
  expect(stop.signal.aborted).toBe(true);
  expect((stop.signal.reason as Error).name).toBe('ProgressStopped');
});

it('writes the first text at once, even after a silent start in which the claim was checked', async () => {
  const { sink, committed } = memorySink();
  let checks = 0;
  const checking: ProgressSink = { append: sink.append, stillHeld: async () => (checks++, true) };
  const pump = progressPump(checking, new AbortController(), () => undefined);
  // The model says nothing for a while: the pump checks the claim meanwhile.
  await sleep(HEARTBEAT_MS * 1.6);
  expect(checks).toBeGreaterThan(0);
  pump.add('first words');
  await sleep(100);
  expect(committed).toEqual(['first words']);
  await pump.close();
});
