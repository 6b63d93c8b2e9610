/** What a stream of an answer or a task tells: text added, the end, or that it is still alive. */
export type FollowEvent =
  | {
      type: 'delta';
      /** The id to resume from: the characters sent so far, this delta included, and a check of that text (`<chars>.<check>`). */
      id: string;
      content: string;
    }
  | { type: 'done'; data: unknown }
  | { type: 'keep-alive' };

/** Where a client resumes: the characters it has, and the check of that text when its id carried one. */
export interface ResumePoint {
  chars: number;
  check?: string;
}

export interface FollowOptions {
  /** What the client has already (from its `Last-Event-ID`); `{ chars: 0 }` for all. */
  after: ResumePoint;
  /** How often the item is read again (its GET: the item, and its progress while it is generated). */
  pollMs?: number;
  /** A keep-alive after this long without an event. */
  keepAliveMs?: number;
  /** The stream ends after this long without `done`; the client resumes with its last id. */
  maxMs?: number;
}

export const FOLLOW_POLL_MS = 500;
export const KEEP_ALIVE_MS = 15_000;
export const FOLLOW_MAX_MS = 5 * 60_000;

/** One read of the followed item: its text so far, whether it has finished, and what its GET shows. */
export interface FollowedState {
  text: string;
  finished: boolean;
  view: unknown;
}

/**
 * A short check of a text (32-bit FNV-1a over its UTF-16 code units, base 36), carried in each
 * delta's id: a resumed stream can then tell whether the text it is asked to continue is still the
 * beginning of the answer, or a try started afresh since.
 * @example textCheck('Hello') // '1kbwtbd' or similar: the same text, the same check
 */
export function textCheck(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(36);
}

/**
 * Follows an item until it finishes (`read` answers undefined once it is gone): the text generated so far first (past `after`), then each
 * addition as it is written, then `done` with the item as its GET shows it. It reads the item
 * every `pollMs`, and no more: a stream left open costs those reads until the client leaves
 * (the consumer stops iterating) or `maxMs` passes. Each read costs what the object's GET costs.
 * @example for await (const event of follow(() => readAnswer(), { after: { chars: 0 } })) send(event)
 */
export async function* follow(read: () => Promise<FollowedState | undefined>, options: FollowOptions): AsyncGenerator<FollowEvent> {
  const pollMs = options.pollMs ?? FOLLOW_POLL_MS;
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  const started = Date.now();
  let sent = options.after.chars;
  // The text sent, when this stream sent all of it; a resumed one knows its length and, from the
  // id's check, whether the text now begins with what the client has.
  let sentText: string | undefined = sent === 0 ? '' : undefined;
  let resumeCheck = sent === 0 ? undefined : options.after.check;
  let lastEvent = Date.now();
  for (;;) {
    const state = await read();
    // Gone (deleted) meanwhile: the stream ends; a reconnect is answered 404.
    if (!state) return;
    // Only text that extends what was sent goes out. An answer tried again after part of it was
    // streamed (or failed with a sentence) starts afresh: no more deltas, and `done` has the truth.
    if (resumeCheck !== undefined && state.text.length >= sent) {
      if (textCheck(state.text.slice(0, sent)) !== resumeCheck) sent = Infinity;
      resumeCheck = undefined;
    }
    const extends_ = sentText === undefined || state.text.startsWith(sentText);
    if (!extends_) sent = Infinity;
    if (state.text.length > sent) {
      yield { type: 'delta', id: `${state.text.length}.${textCheck(state.text)}`, content: state.text.slice(sent) };
      sent = state.text.length;
      if (sentText !== undefined) sentText = state.text;
      lastEvent = Date.now();
    }
    if (state.finished) {
      yield { type: 'done', data: state.view };
      return;
    }
    if (Date.now() - started + pollMs > (options.maxMs ?? FOLLOW_MAX_MS)) return;
    if (Date.now() - lastEvent >= keepAliveMs) {
      yield { type: 'keep-alive' };
      lastEvent = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
