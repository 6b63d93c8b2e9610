import type { ErrorBody } from './types.js';

/** A token, or a function that gives one for each request (Clerk's `getToken`). */
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

/** How the client reaches the API. */
export interface ClientOptions {
  /** The API's base URL, ending in `/openai` (the stack's `ApiUrl` output, or what `npm start` prints). */
  baseUrl: string;
  /** The caller's Clerk session token: a string, or a function that gives a fresh one for each request. */
  token: TokenSource;
  /** Tries after a first one that failed passingly (429, 503, a network error): 3 by default. */
  retries?: number;
  /** The longest pause before a retry, whatever `Retry-After` says: 30 s by default. */
  maxRetryDelayMs?: number;
  /** The `fetch` to use (the global one by default). */
  fetch?: typeof fetch;
}

/**
 * What the API refused or failed with: its status, its machine code and its sentence, the request
 * id to quote, and how long to wait before trying again when it said so.
 * @example
 * try { await client.sessions.get(id) } catch (error) { if (error instanceof ApiError && error.status === 404) ... }
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    /** The HTTP status (0 when the API could not be reached). */
    readonly status: number,
    /** The contract's machine code (`not_found`, `rate_limited`, ...; `network_error` when unreachable). */
    readonly code: string,
    message: string,
    /** The request id to quote when asking about it. */
    readonly requestId?: string,
    /** Seconds to wait before trying again, when the API said (`Retry-After`). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/** Statuses worth trying again: the API said to wait (429), or was briefly unavailable. */
const PASSING = new Set([429, 502, 503, 504]);

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

/** Exponential backoff with full jitter: up to 250 ms × 2^try, at most 5 s. */
export const backoffMs = (attempt: number) => Math.random() * Math.min(5000, 250 * 2 ** attempt);

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** Whether trying again cannot do a thing twice (GET, DELETE, PATCH, a POST with an Idempotency-Key). */
  retryable: boolean;
  signal?: AbortSignal;
}

/** The HTTP side of the client: URLs, the token, JSON, errors and retries. */
export function transport(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => fetch(input, init));
  const retries = options.retries ?? 3;
  const maxDelay = options.maxRetryDelayMs ?? 30_000;

  const token = async (): Promise<string> => {
    const value = typeof options.token === 'function' ? await options.token() : options.token;
    if (!value) throw new ApiError(401, 'unauthorized', 'No token to call the API with: sign in first.');
    return value;
  };

  const url = (path: string, query?: RequestOptions['query']) => {
    const params = Object.entries(query ?? {}).filter(([, value]) => value !== undefined);
    return `${base}${path}${params.length ? `?${params.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`).join('&')}` : ''}`;
  };

  /** An answer that is not 2xx, as an ApiError with the API's sentence and code. */
  const errorOf = async (answer: Response): Promise<ApiError> => {
    let body: Partial<ErrorBody> = {};
    try {
      body = (await answer.json()) as Partial<ErrorBody>;
    } catch {
      // Not the contract's JSON (a proxy's page): the status says enough.
    }
    const retryAfter = Number(answer.headers.get('retry-after'));
    return new ApiError(
      answer.status,
      body.code ?? `http_${answer.status}`,
      body.error ?? `The API answered HTTP ${answer.status}.`,
      body.request_id ?? answer.headers.get('x-request-id') ?? undefined,
      Number.isFinite(retryAfter) && answer.headers.has('retry-after') ? retryAfter : undefined,
    );
  };

  /**
   * Sends a request, and tries again, when it may, after a passing failure: `Retry-After` when the
   * API gave one, else backoff with jitter; at most `retries` times. Answers the raw response of a
   * 2xx; throws an ApiError otherwise.
   */
  async function send(method: string, path: string, request: RequestOptions, accept = 'application/json'): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let failure: ApiError;
      try {
        const answer = await doFetch(url(path, request.query), {
          method,
          headers: {
            accept,
            authorization: `Bearer ${await token()}`,
            ...(request.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...request.headers,
          },
          body: request.body !== undefined ? JSON.stringify(request.body) : undefined,
          signal: request.signal,
        });
        if (answer.ok) return answer;
        failure = await errorOf(answer);
        const passing = PASSING.has(answer.status) || failure.code === 'idempotency_in_progress';
        if (!passing || !request.retryable || attempt >= retries) throw failure;
      } catch (error) {
        if (error instanceof ApiError) throw error;
        if (request.signal?.aborted) throw error;
        failure = new ApiError(0, 'network_error', `The API could not be reached: ${(error as Error).message}`);
        if (!request.retryable || attempt >= retries) throw failure;
      }
      await sleep(Math.min(maxDelay, failure.retryAfter !== undefined ? failure.retryAfter * 1000 : backoffMs(attempt)), request.signal);
    }
  }

  return {
    send,
    /** A request whose answer is JSON. */
    async json<T>(method: string, path: string, request: RequestOptions): Promise<T> {
      return (await (await send(method, path, request)).json()) as T;
    },
    sleep,
  };
}

export type Transport = ReturnType<typeof transport>;
