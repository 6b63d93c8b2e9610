/**
 * A stub of OpenAI's `POST /v1/chat/completions` on 127.0.0.1, for tests and benchmarks that drive the
 * real `openai` SDK without the network. It answers JSON or Server-Sent Events like OpenAI, records
 * every request, and can inject the failures the backend must survive (rate limits, server errors,
 * bad keys, context overflow, exhausted quota, slow answers, dropped connections) in OpenAI's exact
 * error shape, so the SDK raises the same error classes (with .status, .code, .type) it would in production.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One HTTP request the stub received. */
export interface RecordedRequest {
  /** The parsed JSON body (the raw text when it is not JSON, undefined when empty). */
  body: any;
  /** The key from `Authorization: Bearer <key>`, if any. */
  apiKey: string | undefined;
  path: string;
  /** `Date.now()` when the request arrived. */
  receivedAt: number;
  /** `Date.now()` when the client closed the connection before a streamed answer had ended. */
  hungUpAt?: number;
  /** `Date.now()` when the answer (or the error) was sent in full, or the client hung up. */
  endedAt?: number;
}

/** A failure to inject into a chat completion request. */
export type Fault =
  | { kind: 'status'; status: number; code?: string; type?: string; message?: string; retryAfterSeconds?: number }
  | { kind: 'rate_limit' }
  | { kind: 'server_error' }
  | { kind: 'unauthorized' }
  | { kind: 'context_length_exceeded' }
  | { kind: 'insufficient_quota' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'drop' }
  /** A 200 answer with this exact text as its body (an odd completion, or not JSON at all). */
  | { kind: 'answer'; body: string };

/** A fault for the next `times` chat completion requests (default 1), optionally only those made with `apiKey`. */
export interface FaultRule {
  fault: Fault;
  times?: number | 'always';
  apiKey?: string;
}

/** What the stub does for one request, when a plan decides it. */
export interface RequestPlan {
  fault?: Fault;
  latencyMs?: number;
  tokenGapMs?: number;
}

/** A running stub; see {@link startStubOpenAI}. */
export interface StubOpenAI {
  /** Base URL for the SDK's baseURL, ending in /v1 */
  url: string;
  /** Every request received (including failed ones), in order */
  requests: RecordedRequest[];
  /** Only chat completion requests that got a successful answer */
  completions(): RecordedRequest[];
  /** Adds a fault rule; rules are consumed in the order added */
  fail(rule: FaultRule): void;
  /** Sets how replies are made from the request body (default: `Answer to "<last user message content>" (<n> messages)`) */
  reply(fn: (body: any) => string): void;
  /** Adds a fixed latency to every answer (default 0) */
  latency(ms: number): void;
  /**
   * Streams answers one word at a time with this gap between words (default 0: a few pieces at
   * once). Each chunk's send time is recorded in `tokenTimes`.
   */
  tokenGap(ms: number): void;
  /** When each streamed chunk with text was written, per request, in order. */
  tokenTimes: Map<RecordedRequest, number[]>;
  /**
   * Decides, per request, a fault and timings of its own (the mock model's markers): consulted
   * before the fault rules; what it leaves out comes from them and the stub's settings.
   */
  plan(fn: ((body: any) => RequestPlan | undefined) | undefined): void;
  /** Forgets requests, rules, reply function and latency */
  reset(): void;
  close(): Promise<void>;
}

/** The body of an OpenAI error answer. */
export interface OpenAIErrorBody {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** The stub's token estimate: a quarter of the characters, rounded up. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message's content, which may be a string or an array of parts. */
function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (typeof part?.text === 'string' ? part.text : '')).join('');
}

/** The default reply, which names the question so tests can see which request an answer belongs to. */
export function defaultReply(body: any): string {
  const messages: any[] = body.messages;
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  return `Answer to "${textOf(lastUser?.content)}" (${messages.length} messages)`;
}

/** Status, headers and body of each error fault, with OpenAI's own wording. */
function faultError(fault: Exclude<Fault, { kind: 'slow' } | { kind: 'drop' } | { kind: 'answer' }>): {
  status: number;
  error: OpenAIErrorBody;
  headers?: Record<string, string>;
} {
  switch (fault.kind) {
    case 'rate_limit':
      return {
        status: 429,
        // retry-after: 0 so the SDK retries at once instead of backing off half a second or more.
        headers: { 'retry-after': '0' },
        error: {
          message: 'Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      };
    case 'server_error':
      return {
        status: 500,
        error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null },
      };
    case 'unauthorized':
      return {
        status: 401,
        error: {
          message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_api_key',
        },
      };
    case 'context_length_exceeded':
      return {
        status: 400,
        error: {
          message:
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      };
    case 'insufficient_quota':
      return {
        status: 429,
        error: {
          message:
            'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
          type: 'insufficient_quota',
          param: null,
          code: 'insufficient_quota',
        },
      };
    case 'status':
      return {
        status: fault.status,
        headers: fault.retryAfterSeconds === undefined ? undefined : { 'retry-after': String(fault.retryAfterSeconds) },
        error: {
          message: fault.message ?? `Stub error ${fault.status}`,
          type: fault.type ?? (fault.status >= 500 ? 'server_error' : 'invalid_request_error'),
          param: null,
          code: fault.code ?? null,
        },
      };
  }
}

/**
 * `fetch` for the SDK's `fetch` option in jest tests. jest runs tests in a VM realm, where the
 * AbortError that fetch throws on the SDK's timeout is not `instanceof Error`; the SDK's castToError
 * then drops its name and reports the timeout as a plain APIConnectionError ("Connection error.")
 * instead of APIConnectionTimeoutError. This rethrows it as a same-realm Error named AbortError.
 * Not needed outside jest (tsx, Lambda), where the SDK classifies timeouts correctly.
 */
export const jestSafeFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> =>
  fetch(input, init).catch((err: unknown) => {
    if (err instanceof Error || (err as { name?: unknown } | null)?.name !== 'AbortError') throw err;
    throw Object.assign(new Error((err as Error).message, { cause: err }), { name: 'AbortError' });
  });

/**
 * A chat completion (as a fault's body) as the chunks a streaming server sends for it: its
 * message as one delta, then its finish; undefined when the body is not a completion.
 */
function asChunks(text: string): object[] | undefined {
  let completion: any;
  try {
    completion = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof completion !== 'object' || completion === null || !Array.isArray(completion.choices)) return undefined;
  const base = { id: completion.id ?? 'chatcmpl-odd', object: 'chat.completion.chunk', created: completion.created ?? 0, model: completion.model ?? 'gpt-4o' };
  if (!completion.choices.length) return [{ ...base, choices: [] }];
  return completion.choices.flatMap((choice: any) => {
    const { role, content, tool_calls: toolCalls } = choice.message ?? {};
    const delta = { role, content, ...(toolCalls ? { tool_calls: toolCalls.map((call: object, index: number) => ({ index, ...call })) } : {}) };
    return [
      { ...base, choices: [{ index: choice.index ?? 0, delta, finish_reason: null }] },
      { ...base, choices: [{ index: choice.index ?? 0, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] },
    ];
  });
}

/** Starts a stub on a free port of 127.0.0.1. */
export async function startStubOpenAI(options: { record?: boolean } = {}): Promise<StubOpenAI> {
  // A long-running mock keeps no record of its requests (it would grow without end).
  const record = options.record ?? true;
  const requests: RecordedRequest[] = [];
  let planOf: ((body: any) => RequestPlan | undefined) | undefined;
  const succeeded = new Set<RecordedRequest>();
  let rules: FaultRule[] = [];
  let makeReply: (body: any) => string = defaultReply;
  let latencyMs = 0;
  let tokenGapMs = 0;
  const tokenTimes = new Map<RecordedRequest, number[]>();
  // Waits in progress, so close() can end them instead of leaving timers that keep jest alive.
  const waits = new Map<NodeJS.Timeout, () => void>();

  /** Resolves after `ms`, or early (false) when the client goes away or the stub closes. */
  function wait(ms: number, res: ServerResponse): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(!res.destroyed);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        waits.delete(timer);
        res.off('close', onClose);
        resolve(ok);
      };
      const onClose = () => done(false);
      const timer = setTimeout(() => done(true), ms);
      waits.set(timer, onClose);
      res.on('close', onClose);
    });
  }

  /** Takes the first rule that applies to this key, using up one of its times. */
  function takeFault(apiKey: string): Fault | undefined {
    const index = rules.findIndex((r) => r.apiKey === undefined || r.apiKey === apiKey);
    const rule = rules[index];
    if (!rule) return undefined;
    if (rule.times !== 'always') {
      rule.times = (rule.times ?? 1) - 1;
      if (rule.times <= 0) rules.splice(index, 1);
    }
    return rule.fault;
  }

  function sendError(res: ServerResponse, status: number, error: OpenAIErrorBody, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}`, ...headers });
    res.end(JSON.stringify({ error }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: any = raw === '' ? undefined : raw;
    try {
      if (raw !== '') body = JSON.parse(raw);
    } catch {
      // Kept as text: the request is still recorded, and answered 400 below.
    }
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    const apiKey = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const recorded: RecordedRequest = { body, apiKey, path, receivedAt: Date.now() };
    res.on('close', () => (recorded.endedAt ??= Date.now()));
    if (record) requests.push(recorded);

    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendError(res, 404, { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null });
    }
    if (!apiKey) {
      return sendError(res, 401, {
        message:
          "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.",
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    }

    const plan = typeof body === 'object' && body !== null ? planOf?.(body) : undefined;
    const fault = plan?.fault ?? takeFault(apiKey);
    if (fault?.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    const delay = (plan?.latencyMs ?? latencyMs) + (fault?.kind === 'slow' ? fault.delayMs : 0);
    if (!(await wait(delay, res))) return;
    if (fault?.kind === 'answer') {
      const streamed = typeof body === 'object' && body?.stream === true ? asChunks(fault.body) : undefined;
      if (streamed) {
        // The same odd answer as a streaming server sends it.
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': `req_${randomUUID()}` });
        for (const chunk of streamed) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}` });
      res.end(fault.body);
      return;
    }
    if (fault && fault.kind !== 'slow') {
      const { status, error, headers } = faultError(fault);
      return sendError(res, status, error, headers);
    }

    if (typeof body !== 'object' || body === null) {
      return sendError(res, 400, {
        message: 'We could not parse the JSON body of your request. The OpenAI API expects a JSON payload.',
        type: 'invalid_request_error',
        param: null,
        code: null,
      });
    }
    if (typeof body.model !== 'string') {
      return sendError(res, 400, { message: 'you must provide a model parameter', type: 'invalid_request_error', param: null, code: null });
    }
    if (!Array.isArray(body.messages)) {
      return sendError(res, 400, {
        message: "Missing required parameter: 'messages'.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'missing_required_parameter',
      });
    }

    const content = makeReply(body);
    const promptTokens = estimateTokens(body.messages.map((m: any) => textOf(m?.content)).join(''));
    const completionTokens = estimateTokens(content);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    const base = { id: `chatcmpl-${randomUUID()}`, created: Math.floor(Date.now() / 1000), model: body.model, system_fingerprint: null };
    const headers = { 'x-request-id': `req_${randomUUID()}` };

    if (body.stream === true) {
      const withUsage = body.stream_options?.include_usage === true;
      // OpenAI puts `usage: null` on every chunk when usage was asked for, and the totals on a last chunk.
      const chunk = (delta: object, finish: string | null) => ({
        ...base,
        object: 'chat.completion.chunk',
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(withUsage ? { usage: null } : {}),
      });
      // Word by word with a gap, or a few pieces at once; either way consumers must really join deltas.
      const gapMs = plan?.tokenGapMs ?? tokenGapMs;
      const size = Math.max(1, Math.ceil(content.length / 4));
      const pieces = gapMs > 0 ? (content.match(/\s*\S+\s*/g) ?? [content]) : Array.from({ length: Math.ceil(content.length / size) }, (_, i) => content.slice(i * size, (i + 1) * size));
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
      res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: '' }, null))}\n\n`);
      const times: number[] = [];
      if (record) tokenTimes.set(recorded, times);
      for (const [index, piece] of pieces.entries()) {
        if (index > 0 && !(await wait(gapMs, res))) {
          recorded.hungUpAt = Date.now();
          return;
        }
        if (res.destroyed) {
          recorded.hungUpAt = Date.now();
          return;
        }
        res.write(`data: ${JSON.stringify(chunk({ content: piece }, null))}\n\n`);
        times.push(Date.now());
      }
      res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`);
      if (withUsage) res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          usage,
        }),
      );
    }
    if (record) succeeded.add(recorded);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the stub (or a throwing reply function) must show up as an error, not a hang.
      if (res.headersSent) return void res.destroy();
      sendError(res, 500, { message: `Stub failure: ${String(err)}`, type: 'server_error', param: null, code: null });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    completions: () => requests.filter((r) => succeeded.has(r)),
    fail: (rule) => void rules.push({ ...rule }),
    reply: (fn) => void (makeReply = fn),
    latency: (ms) => void (latencyMs = ms),
    tokenGap: (ms) => void (tokenGapMs = ms),
    plan: (fn) => void (planOf = fn),
    tokenTimes,
    reset: () => {
      planOf = undefined;
      tokenGapMs = 0;
      tokenTimes.clear();
      requests.length = 0;
      succeeded.clear();
      rules = [];
      makeReply = defaultReply;
      latencyMs = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const end of [...waits.values()]) end();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets from the SDK would otherwise hold server.close() (and jest) open.
        server.closeAllConnections();
      }),
  };
}
