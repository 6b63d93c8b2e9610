/**
 * A small HTTP client for the local API, for the tests and the benchmark: JSON in and out, the
 * raw status and headers kept.
 */
export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export function client(baseUrl: string, token?: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the assertion to show
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  };
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    patch: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PATCH', path, body, headers),
    delete: <T = any>(path: string, headers?: Record<string, string>) => call<T>('DELETE', path, undefined, headers),
    call,
  };
}

/** One Server-Sent Event as read: its fields, or the text of a `:` comment line. */
export interface ServerSentEvent {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
}

/**
 * The events of a `text/event-stream` body as they arrive (blocks split on blank lines, one field
 * per line). Stop iterating to stop reading.
 * @example for await (const event of serverSentEvents(response.body!)) if (event.event === 'done') break;
 */
export async function* serverSentEvents(body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: ServerSentEvent = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) event.comment = line.slice(1).trim();
        const field = /^(event|id|data): ?(.*)$/.exec(line);
        if (field) event[field[1] as 'event' | 'id' | 'data'] = field[2];
      }
      yield event;
    }
  }
}
