import { ApiError, backoffMs, type Transport } from './http.js';

/** One Server-Sent Event: its type, data and id. */
interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/** The events of a `text/event-stream` body, as they come. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let event: Partial<ServerSentEvent> = {};
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffered += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        if (line === '') {
          if (event.data !== undefined) yield { event: event.event ?? 'message', data: event.data, id: event.id };
          event = {};
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') event.data = event.data === undefined ? text : `${event.data}\n${text}`;
          else if (field === 'event') event.event = text;
          else if (field === 'id') event.id = text;
        }
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The text of an answer (or a task's result) as it is written: an async iterable of the pieces
 * added, and `final`, the object as its GET shows it once it has finished.
 */
export interface TextStream<Final> extends AsyncIterable<string> {
  /** The finished message (or task), once the stream has said `done`. */
  readonly final: Promise<Final>;
}

/** Reconnections in a row without any event before a stream gives up. */
const MAX_RECONNECTS = 5;

/**
 * Follows a stream route (`.../stream`), resuming with `Last-Event-ID` after a dropped connection or
 * a stream that ended without `done` (the server ends one after 5 minutes), so that nothing is
 * repeated or lost.
 */
export function followStream<Final>(http: Transport, path: string, signal?: AbortSignal): TextStream<Final> {
  let settle!: { resolve: (final: Final) => void; reject: (error: unknown) => void };
  const final = new Promise<Final>((resolve, reject) => (settle = { resolve, reject }));
  // Nobody may await `final` (a loop over the text only): its failure then is the loop's.
  final.catch(() => undefined);

  async function* pieces(): AsyncGenerator<string> {
    let lastEventId: string | undefined;
    let failures = 0;
    try {
      for (;;) {
        try {
          const answer = await http.send('GET', path, { retryable: true, signal, headers: lastEventId ? { 'last-event-id': lastEventId } : {} }, 'text/event-stream');
          for await (const event of serverSentEvents(answer.body!)) {
            failures = 0;
            if (event.event === 'delta') {
              lastEventId = event.id ?? lastEventId;
              yield (JSON.parse(event.data) as { content: string }).content;
            } else if (event.event === 'done') {
              settle.resolve(JSON.parse(event.data) as Final);
              return;
            }
          }
        } catch (error) {
          if (signal?.aborted || (error instanceof ApiError && error.status !== 0)) throw error;
        }
        // Cut short (a dropped connection, or the server's bound): resume after what came.
        if (++failures > MAX_RECONNECTS) throw new ApiError(0, 'stream_interrupted', 'The stream broke off again and again; read the answer with wait() instead.');
        await http.sleep(backoffMs(failures - 1), signal);
      }
    } catch (error) {
      settle.reject(error);
      throw error;
    }
  }

  return { final, [Symbol.asyncIterator]: () => pieces() };
}
