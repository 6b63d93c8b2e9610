/**
 * Progress writes per answer: the first as soon as text comes (a reader sees the answer start at
 * once), then at most one every this many milliseconds. Each costs two write units, so a
 * 10-second streamed answer costs about 22 (bench/cost.ts): these writes are most of an ask's
 * DynamoDB bill, and one every 500 ms made 1,000 busy asks cost $0.038 instead of $0.026. A
 * stream reads twice a second, so text reaches it within about 1.5 s of the model writing it.
 */
export const PROGRESS_INTERVAL_MS = 1000;
/** While no text comes, the claim and a cancel are checked this often (the contract's bound is 2 s). */
export const HEARTBEAT_MS = 1000;

/** What the pump writes through: see `liveWriter`. */
export interface ProgressSink {
  append(text: string): Promise<boolean>;
  stillHeld(): Promise<boolean>;
}

/**
 * Collects the text a model streams and writes it as progress, at most every
 * PROGRESS_INTERVAL_MS, one write at a time; while no text comes, checks the claim every
 * HEARTBEAT_MS. When a write or a check finds the claim lost or a cancel asked for, it aborts
 * `stop`, which ends the model call. A failed write is logged by the caller's `onError` and its
 * text is kept for the next write: progress is a view, the finished answer is written apart.
 * @example const pump = progressPump(live, stop, logError); await askModel(..., { onText: pump.add }); await pump.close();
 */
export function progressPump(sink: ProgressSink, stop: AbortController, onError: (error: unknown) => void) {
  let buffered = '';
  /** When text was last written (0: never, so the first text goes at once). */
  let lastWrite = 0;
  /** When the store last saw this claim (a write or a check): the heartbeat counts from it. */
  let lastContact = Date.now();
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const run = (step: () => Promise<boolean>) => {
    writing = writing.then(async () => {
      if (stop.signal.aborted) return;
      try {
        if (!(await step())) stop.abort(new ProgressStopped());
      } catch (error) {
        onError(error);
      }
    });
  };

  const flush = () => {
    timer = undefined;
    if (closed || !buffered) return;
    lastWrite = lastContact = Date.now();
    run(async () => {
      // The text is taken when the write runs, not when it is queued: a write before it that failed
      // has put its text back in front, and the order stays the model's.
      const text = buffered;
      buffered = '';
      if (!text) return true;
      try {
        return await sink.append(text);
      } catch (error) {
        buffered = text + buffered;
        throw error;
      }
    });
  };

  const heartbeat = setInterval(() => {
    // Text waiting for its write: that write checks the claim.
    if (!timer && Date.now() - lastContact >= HEARTBEAT_MS) {
      lastContact = Date.now();
      run(() => sink.stillHeld());
    }
  }, HEARTBEAT_MS / 2);
  heartbeat.unref();

  return {
    /** Takes text as the model streams it. */
    add(text: string): void {
      buffered += text;
      if (timer || closed) return;
      timer = setTimeout(flush, Math.max(0, lastWrite + PROGRESS_INTERVAL_MS - Date.now()));
    },
    /** Stops writing (what is buffered is not written: the finished answer holds it) and waits for the write in flight. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(heartbeat);
      if (timer) clearTimeout(timer);
      await writing;
    },
  };
}

/** The reason a model call was stopped: the claim was lost or a cancel was asked for. */
export class ProgressStopped extends Error {
  override name = 'ProgressStopped';
  constructor() {
    super('the answer was cancelled or taken over');
  }
}
