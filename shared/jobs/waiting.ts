/** How often a waiting read looks again: at most four reads a second per waiting caller. */
export const WAIT_POLL_MS = 250;

/**
 * Reads until `finished` holds or `seconds` have passed (one read when `seconds` is absent), and
 * returns the last read: what `?wait=` on a message's or a task's GET answers.
 * @example await readUntilFinished(() => service.get(...), (message) => message.status !== 'PENDING', 20)
 */
export async function readUntilFinished<T>(read: () => Promise<T>, finished: (item: T) => boolean, seconds?: number): Promise<T> {
  const deadline = Date.now() + (seconds ?? 0) * 1000;
  let item = await read();
  while (!finished(item) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, deadline - Date.now())));
    item = await read();
  }
  return item;
}
