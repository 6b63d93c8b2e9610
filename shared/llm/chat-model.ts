import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError } from 'openai';
import type { Usage } from '../messages/schema.js';
import type { OrgSettings } from '../platform/org-settings.js';
import type { ChatMessage } from './prompt.js';

export interface ModelAnswer {
  content: string;
  model: string;
  usage?: Usage;
}

const clients = new Map<string, OpenAI>();

/** One SDK client per key and base URL, kept across invocations of a warm worker. */
function clientFor(settings: OrgSettings): OpenAI {
  const cacheKey = `${settings.baseUrl ?? ''}\n${settings.apiKey}`;
  let client = clients.get(cacheKey);
  if (!client) {
    if (clients.size > 50) clients.clear();
    // The SDK retries 408/409/429/5xx and connection errors twice, honouring retry-after; SQS
    // redelivery with backoff takes over after that.
    client = new OpenAI({ apiKey: settings.apiKey, baseURL: settings.baseUrl, maxRetries: 2, fetch: noRetryOnExhaustedQuota });
    clients.set(cacheKey, client);
  }
  return client;
}

/**
 * The SDK retries every 429, but one that says the quota is used up will not pass by waiting: it
 * is marked `x-should-retry: false` (a header the SDK honours) so that it fails at once.
 */
async function noRetryOnExhaustedQuota(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.status !== 429) return response;
  const body = await response.text();
  const headers = new Headers(response.headers);
  if (/"insufficient_quota"/.test(body)) headers.set('x-should-retry', 'false');
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** What the caller sees of a model call while it runs. */
export interface ModelCallOptions {
  /** Ends the call early (a cancel, a lost claim): the SDK aborts the request. */
  signal?: AbortSignal;
  /** Each piece of text as the model streams it. */
  onText?: (text: string) => void;
}

/**
 * One chat completion through the official SDK, streamed (`stream_options.include_usage`, so that
 * the usage of a streamed answer is right), given up after `timeoutMs` or when `signal` aborts.
 * @example await askModel(settings, 'gpt-4o', messages, 60_000, { onText: (text) => pump.add(text) })
 */
export async function askModel(
  settings: OrgSettings,
  model: string,
  messages: ChatMessage[],
  timeoutMs: number,
  options: ModelCallOptions = {},
): Promise<ModelAnswer> {
  // `timeout` bounds each try; the signal bounds all of them together, retries included.
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const stream = await clientFor(settings).chat.completions.create(
    { model, messages, stream: true, stream_options: { include_usage: true } },
    { timeout: timeoutMs, signal },
  );
  let content = '';
  let chunks = 0;
  let toolCalls = false;
  let answeredModel = '';
  let usage: Usage | undefined;
  let finished = false;
  for await (const chunk of stream) {
    chunks++;
    if (typeof chunk !== 'object' || chunk === null) throw new UnusableAnswer('unreadable');
    answeredModel ||= typeof chunk.model === 'string' ? chunk.model : '';
    if (chunk.usage) {
      usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens, total_tokens: chunk.usage.total_tokens };
    }
    const delta = Array.isArray(chunk.choices) ? chunk.choices[0]?.delta : undefined;
    if (delta?.tool_calls?.length) toolCalls = true;
    if (Array.isArray(chunk.choices) && chunk.choices[0]?.finish_reason) finished = true;
    if (typeof delta?.content === 'string' && delta.content) {
      content += delta.content;
      options.onText?.(delta.content);
    }
  }
  // The SDK ends the iteration quietly when the signal aborts: a cancel, or the deadline mid-stream.
  if (options.signal?.aborted) throw new APIUserAbortError();
  if (deadline.aborted) throw new APIConnectionTimeoutError();
  // A body that is not an event stream at all (an HTML error page, a server that ignored `stream`) yields no chunk.
  if (!chunks) throw new UnusableAnswer('unreadable');
  // Text that stopped without a finish: the connection ended early, and the answer is not whole.
  if (content && !finished) throw new APIConnectionError({ message: 'The answer stream ended before the answer did.' });
  if (!content.trim()) throw new UnusableAnswer(toolCalls ? 'tool_call' : 'empty');
  return { content, model: answeredModel || model, usage };
}

/**
 * A completion that came back but holds no answer to store: no choices or no content (`empty`), only
 * tool calls (`tool_call`, until tools exist), or a body that is not a chat completion (`unreadable`).
 */
export class UnusableAnswer extends Error {
  override name = 'UnusableAnswer';
  constructor(readonly reason: 'empty' | 'tool_call' | 'unreadable') {
    super(`unusable model answer: ${reason}`);
  }
}
