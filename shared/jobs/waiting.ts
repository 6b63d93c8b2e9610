/** How often a waiting read looks again once past its start: at most four reads a second per waiting caller. */
export const WAIT_POLL_MS = 250;
/** The first look again comes this soon, and each next one twice as late, up to WAIT_POLL_MS. */
const FIRST_LOOK_MS = 20;

/**
 * Reads until `finished` holds or `seconds` have passed (one read when `seconds` is absent), and
 * returns the last read: what `?wait=` on a message's or a task's GET answers. It looks again
 * after 20, 40, 80 and 160 ms, then every WAIT_POLL_MS: an answer that comes quickly is seen
 * quickly, and a long wait costs four reads a second.
 * @example await readUntilFinished(() => service.get(...), (message) => message.status !== 'PENDING', 20)
 */
export async function readUntilFinished<T>(read: () => Promise<T>, finished: (item: T) => boolean, seconds?: number): Promise<T> {
  const deadline = Date.now() + (seconds ?? 0) * 1000;
  let item = await read();
  for (let pause = FIRST_LOOK_MS; !finished(item) && Date.now() < deadline; pause = Math.min(WAIT_POLL_MS, pause * 2)) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, deadline - Date.now())));
    item = await read();
  }
  return item;
}
