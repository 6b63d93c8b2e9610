import type { FollowEvent } from '../jobs/following.js';

/** The headers of a Server-Sent Events answer (no proxy may buffer or cache it). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * The Server-Sent Events text of a stream of events: `delta` events with an `id:` (the characters
 * sent so far, for `Last-Event-ID`), one `done`, and `: keep-alive` comments; first a `retry:` hint.
 */
export async function* sseText(events: AsyncIterable<FollowEvent>): AsyncGenerator<string> {
  yield 'retry: 2000\n\n';
  for await (const event of events) {
    if (event.type === 'delta') yield `id: ${event.id}\nevent: delta\ndata: ${JSON.stringify({ content: event.content })}\n\n`;
    else if (event.type === 'done') yield `event: done\ndata: ${JSON.stringify(event.data)}\n\n`;
    else yield ': keep-alive\n\n';
  }
}

/** The characters a client already has, from its `Last-Event-ID` header (0 when absent or not a count). */
export function resumeOffset(headers: Record<string, string | undefined>): number {
  const value = headers['last-event-id'];
  return value !== undefined && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : 0;
}
