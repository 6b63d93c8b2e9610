import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { UnusableAnswer } from './chat-model.js';

const UNREADABLE = 'The model provider sent an answer that could not be read.';

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
  if (error instanceof UnusableAnswer) {
    if (error.reason === 'empty') return { kind: 'permanent', sentence: 'The model gave an empty answer. Send the question again.' };
    if (error.reason === 'tool_call') {
      return { kind: 'permanent', sentence: 'The model answered with a tool call, which this service does not support yet. Send the question again.' };
    }
    return { kind: 'passing', sentence: UNREADABLE };
  }
  // A body that is not JSON surfaces as the parser's SyntaxError; the class name means nothing to a reader.
  if ((error as Error | undefined)?.name === 'SyntaxError') return { kind: 'passing', sentence: UNREADABLE };
  if (!(error instanceof APIError) || error.status === undefined) {
    return { kind: 'passing', sentence: 'The model call failed unexpectedly.' };
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

/** Strings that look like credentials (API keys, bearer tokens): never copied from a provider's text. */
const KEY_LIKE = /\b(?:sk|pk|rk|key|tok)[-_][A-Za-z0-9_-]{6,}|\bBearer\s+\S+|\b[A-Za-z0-9_-]{32,}\b/gi;

/** A provider's text with anything key-like replaced, for answers and logs. */
export const redactKeys = (text: string): string => text.replace(KEY_LIKE, '[redacted]');

/** The provider's own explanation, short, on one line, and without anything key-like. */
function providerMessage(error: APIError): string {
  const text = (error.error as { message?: string } | undefined)?.message ?? error.message;
  const line = redactKeys(text).replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line.endsWith('.') ? line : `${line}.`;
}
