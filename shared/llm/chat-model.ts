import OpenAI from 'openai';
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

/** One chat completion through the official SDK, given up after `timeoutMs`. */
export async function askModel(settings: OrgSettings, model: string, messages: ChatMessage[], timeoutMs: number): Promise<ModelAnswer> {
  // `timeout` bounds each try; the signal bounds all of them together, retries included.
  const completion = await clientFor(settings).chat.completions.create(
    { model, messages },
    { timeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) },
  );
  if (typeof completion !== 'object' || completion === null || !Array.isArray(completion.choices)) throw new UnusableAnswer('unreadable');
  const message = completion.choices[0]?.message;
  if (!message?.content?.trim()) throw new UnusableAnswer(message?.tool_calls?.length ? 'tool_call' : 'empty');
  const usage = completion.usage
    ? { prompt_tokens: completion.usage.prompt_tokens, completion_tokens: completion.usage.completion_tokens, total_tokens: completion.usage.total_tokens }
    : undefined;
  return { content: message.content, model: completion.model || model, usage };
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
