import type { FollowEvent, ResumePoint } from '../jobs/following.js';

/** The headers of a Server-Sent Events answer (no proxy may buffer or cache it). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/**
 * The Server-Sent Events text of a stream of events: `delta` events with an `id:` (the characters
 * sent so far and a check of them, for `Last-Event-ID`), one `done`, and `: keep-alive` comments;
 * first a `retry:` hint.
 */
export async function* sseText(events: AsyncIterable<FollowEvent>): AsyncGenerator<string> {
  yield 'retry: 2000\n\n';
  for await (const event of events) {
    if (event.type === 'delta') yield `id: ${event.id}\nevent: delta\ndata: ${JSON.stringify({ content: event.content })}\n\n`;
    else if (event.type === 'done') yield `event: done\ndata: ${JSON.stringify(event.data)}\n\n`;
    else yield ': keep-alive\n\n';
  }
}

/**
 * Where a client resumes, from its `Last-Event-ID` header: `<chars>.<check>` as the deltas' ids are,
 * or a bare count; anything else (or none) is the beginning.
 * @example resumePoint({ 'last-event-id': '42.1x9k3' }) // { chars: 42, check: '1x9k3' }
 */
export function resumePoint(headers: Record<string, string | undefined>): ResumePoint {
  const match = /^(\d{1,9})(?:\.([0-9a-z]{1,7}))?$/.exec(headers['last-event-id']?.trim() ?? '');
  if (!match) return { chars: 0 };
  return match[2] ? { chars: Number(match[1]), check: match[2] } : { chars: Number(match[1]) };
}
