import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { OrgSettings } from '../org-settings.js';
import type { Usage } from '../schemas/messages.js';
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
  const choice = completion.choices[0];
  const usage = completion.usage
    ? { prompt_tokens: completion.usage.prompt_tokens, completion_tokens: completion.usage.completion_tokens, total_tokens: completion.usage.total_tokens }
    : undefined;
  return { content: choice?.message?.content ?? '', model: completion.model || model, usage };
}

/** What a model call's failure means for the job. */
export type ModelFailure =
  /** Will not get better by trying again: fail now, with a sentence saying what to fix. */
  | { kind: 'permanent'; sentence: string }
  /** May pass: try again later (429, 5xx, timeouts, connection errors). */
  | { kind: 'passing'; sentence: string }
  /** The key was refused: worth one try with freshly read settings, in case it was rotated. */
  | { kind: 'key_refused'; sentence: string };

/** Sorts a model call's failure into permanent and passing, with a sentence a person can act on. */
export function classifyModelFailure(error: unknown, orgId: string, model: string): ModelFailure {
  if (error instanceof APIConnectionTimeoutError || error instanceof APIUserAbortError || (error instanceof APIConnectionError && isAbort(error))) {
    return { kind: 'passing', sentence: 'The model did not answer in time.' };
  }
  if (error instanceof APIConnectionError) {
    return { kind: 'passing', sentence: 'The model provider could not be reached.' };
  }
  if (!(error instanceof APIError) || error.status === undefined) {
    return { kind: 'passing', sentence: `The model call failed unexpectedly (${(error as Error)?.name ?? 'error'}).` };
  }
  const { status, code } = error;
  if (code === 'insufficient_quota' || (error.type as string | undefined) === 'insufficient_quota') {
    return {
      kind: 'permanent',
      sentence: `The OpenAI account of organization ${orgId} has run out of quota. Add credit or raise its limits, then ask again.`,
    };
  }
  if (code === 'context_length_exceeded' || /maximum context length|context window/i.test(error.message)) {
    return {
      kind: 'permanent',
      sentence: "The model's context length was exceeded. Shorten the message or the history, or start a new session.",
    };
  }
  if (status === 401) {
    return { kind: 'key_refused', sentence: `The model provider refused the API key of organization ${orgId} (401). Set a valid key.` };
  }
  if (status === 403) {
    return { kind: 'permanent', sentence: `The API key of organization ${orgId} is not allowed to use the model "${model}" (403).` };
  }
  if (status === 404) {
    return { kind: 'permanent', sentence: `The model "${model}" was not found at the model provider (404). Check the model name.` };
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    return {
      kind: 'passing',
      sentence: status === 429 ? 'The model provider is rate limiting this organization (429).' : `The model provider had an error (HTTP ${status}).`,
    };
  }
  return { kind: 'permanent', sentence: `The model provider refused the request (HTTP ${status}): ${providerMessage(error)}` };
}

function isAbort(error: Error): boolean {
  const cause = (error as { cause?: { name?: string } }).cause;
  return cause?.name === 'AbortError' || /timed? ?out/i.test(error.message);
}

/** The provider's own explanation, short and on one line. */
function providerMessage(error: APIError): string {
  const text = (error.error as { message?: string } | undefined)?.message ?? error.message;
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line.endsWith('.') ? line : `${line}.`;
}
