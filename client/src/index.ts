/**
 * The AI chat API's client: sessions, messages, asks and context tasks, typed from the API's own
 * OpenAPI document (./types.ts), with waiting, streams, cancel, retries and idempotent asks built in.
 * It needs nothing but `fetch`: it runs in browsers and in Node 24.
 *
 * @example
 * const client = createClient({ baseUrl: 'http://127.0.0.1:3000/openai', token: () => clerk.session.getToken() });
 * const session = await client.sessions.create({ name: 'Consult', system_prompt: 'You are a careful medical assistant.' });
 * const ask = await client.ask(session.session_id, { message: 'What is hypertension?' });
 * for await (const text of ask.stream()) process.stdout.write(text);
 */
import { ApiError, backoffMs, transport, type ClientOptions, type TokenSource, type Transport } from './http.js';
import { followStream, type TextStream } from './stream.js';
import type {
  AskAnswer,
  AskBody,
  CancelMessageAnswer,
  CancelTaskAnswer,
  CreateMessageAnswer,
  CreateMessageBody,
  CreateSessionAnswer,
  CreateSessionBody,
  CreateTaskAnswer,
  CreateTaskBody,
  DeleteMessageAnswer,
  DeleteSessionAnswer,
  EraseUserDataAnswer,
  GetMessageAnswer,
  GetSessionAnswer,
  GetTaskAnswer,
  GetUsageAnswer,
  ListMessagesAnswer,
  ListSessionsAnswer,
  Message,
  UpdateSessionAnswer,
  UpdateSessionBody,
} from './types.js';

export { ApiError, type ClientOptions, type TextStream, type TokenSource };
export type * from './types.js';

/** A task as the API answers it; its JSON result (`result_json`, when the text is JSON) is of no known shape. */
export type Task = GetTaskAnswer;

/** How long to wait, and how to give up. */
export interface WaitOptions {
  /** Give up (ApiError `wait_timeout`) after this long; by default, wait as long as it takes. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** An accepted ask (or task) and what to do with it: wait for it, read it as it is written, cancel it. */
export interface Pending<Final> {
  /** Resolves with the finished object (COMPLETED, FAILED or CANCELLED; done, error or cancelled). */
  wait(options?: WaitOptions): Promise<Final>;
  /** The text as it is written, resumed after a dropped connection; `final` once it has finished. */
  stream(options?: { signal?: AbortSignal }): TextStream<Final>;
  /** Stops it: what was written so far stays (an admin may not: 403). */
  cancel(): Promise<Final>;
}

export type AskHandle = AskAnswer & Pending<Message>;
export type TaskHandle = CreateTaskAnswer & Pending<Task>;

const MESSAGE_DONE = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const TASK_DONE = new Set(['done', 'error', 'cancelled']);
const path = (...parts: string[]) => parts.map((part) => `/${encodeURIComponent(part)}`).join('');

/** A fresh Idempotency-Key: a retried POST of it answers the first one's answer. */
const idempotencyKey = (): string =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;

/** Every item of a listing, page after page. */
async function* everyPage<T>(page: (after: string | undefined) => Promise<{ items: T[]; has_more: boolean; next: string | null }>): AsyncGenerator<T> {
  let after: string | undefined;
  for (;;) {
    const { items, has_more, next } = await page(after);
    yield* items;
    if (!has_more || !next) return;
    after = next;
  }
}

/**
 * Waits for an object with `?wait=20` (the server answers as soon as it has finished), again while
 * it has not, with a short jittered pause between rounds.
 */
async function waitFor<T extends { status: string }>(http: Transport, objectPath: string, finished: Set<string>, options: WaitOptions = {}): Promise<T> {
  const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  for (let round = 0; ; round++) {
    const left = deadline - Date.now();
    const seconds = Math.max(1, Math.min(20, Math.floor(left / 1000)));
    const current = await http.json<T>('GET', objectPath, { retryable: true, query: { wait: seconds }, signal: options.signal });
    if (finished.has(current.status)) return current;
    if (Date.now() >= deadline) throw new ApiError(0, 'wait_timeout', `Still ${current.status.toLowerCase()} after ${options.timeoutMs} ms.`);
    await http.sleep(Math.min(backoffMs(round), 1000), options.signal);
  }
}

/**
 * A client of the API.
 * @example
 * const client = createClient({ baseUrl: process.env.API_URL!, token: process.env.TOKEN! });
 * for await (const session of client.sessions.iterate()) console.log(session.name);
 */
export function createClient(options: ClientOptions) {
  const http = transport(options);
  const sessionPath = (sessionId: string) => `/sessions${path(sessionId)}`;
  const messagePath = (sessionId: string, messageId: string) => `${sessionPath(sessionId)}/messages${path(messageId)}`;
  const taskPath = (sessionId: string, ctxId: string) => `${sessionPath(sessionId)}/ctx${path(ctxId)}`;

  const sessions = {
    /** Starts a session. @example const session = await client.sessions.create({ name: 'Consult' }) */
    create: (body: CreateSessionBody = {}) => http.json<CreateSessionAnswer>('POST', '/sessions', { body, retryable: false }),
    /** One page of the caller's sessions, newest first. @example const { items, next } = await client.sessions.list({ limit: 50 }) */
    list: (query: { limit?: number; after?: string; include_last?: boolean } = {}) => http.json<ListSessionsAnswer>('GET', '/sessions', { query, retryable: true }),
    /** Every session of the caller, newest first, a page at a time. @example for await (const s of client.sessions.iterate()) ... */
    iterate: (query: { limit?: number; include_last?: boolean } = {}) => everyPage((after) => sessions.list({ ...query, after })),
    /** One session. @example const session = await client.sessions.get(id) */
    get: (sessionId: string) => http.json<GetSessionAnswer>('GET', sessionPath(sessionId), { retryable: true }),
    /** Renames it or changes its system prompt. @example await client.sessions.update(id, { name: 'Follow-up' }) */
    update: (sessionId: string, body: Omit<UpdateSessionBody, 'end'>) => http.json<UpdateSessionAnswer>('PATCH', sessionPath(sessionId), { body, retryable: true }),
    /** Ends it: it takes no more asks, and can still be read. @example await client.sessions.end(id) */
    end: (sessionId: string) => http.json<UpdateSessionAnswer>('PATCH', sessionPath(sessionId), { body: { end: true }, retryable: true }),
    /** Deletes it with its messages and tasks. @example await client.sessions.delete(id) */
    delete: (sessionId: string) => http.json<DeleteSessionAnswer>('DELETE', sessionPath(sessionId), { retryable: true }),
  };

  const messages = {
    /** One page of a session's messages (newest first by default). @example await client.messages.list(id, { order: 'asc' }) */
    list: (sessionId: string, query: { limit?: number; after?: string; order?: 'asc' | 'desc' } = {}) =>
      http.json<ListMessagesAnswer>('GET', `${sessionPath(sessionId)}/messages`, { query, retryable: true }),
    /** Every message of a session, a page at a time. @example for await (const m of client.messages.iterate(id, { order: 'asc' })) ... */
    iterate: (sessionId: string, query: { limit?: number; order?: 'asc' | 'desc' } = {}) => everyPage((after) => messages.list(sessionId, { ...query, after })),
    /** One message; with `wait` (1..20 s), as soon as it has finished. @example await client.messages.get(id, messageId) */
    get: (sessionId: string, messageId: string, query: { wait?: number } = {}) => http.json<GetMessageAnswer>('GET', messagePath(sessionId, messageId), { query, retryable: true }),
    /** Adds a message written elsewhere (COMPLETED). @example await client.messages.create(id, { role: 'user', content: 'Note' }) */
    create: (sessionId: string, body: CreateMessageBody) => http.json<CreateMessageAnswer>('POST', `${sessionPath(sessionId)}/messages`, { body, retryable: false }),
    /** Deletes one message. @example await client.messages.delete(id, messageId) */
    delete: (sessionId: string, messageId: string) => http.json<DeleteMessageAnswer>('DELETE', messagePath(sessionId, messageId), { retryable: true }),
    /** Stops an answer being written (what was written stays). @example await client.messages.cancel(id, messageId) */
    cancel: (sessionId: string, messageId: string) => http.json<CancelMessageAnswer>('POST', `${messagePath(sessionId, messageId)}/cancel`, { retryable: true }),
    /** Waits for an answer to finish. @example const answer = await client.messages.wait(id, messageId) */
    wait: (sessionId: string, messageId: string, waitOptions?: WaitOptions) => waitFor<Message>(http, messagePath(sessionId, messageId), MESSAGE_DONE, waitOptions),
    /** An answer's text as it is written. @example for await (const text of client.messages.stream(id, messageId)) ... */
    stream: (sessionId: string, messageId: string, streamOptions: { signal?: AbortSignal } = {}) =>
      followStream<Message>(http, `${messagePath(sessionId, messageId)}/stream`, streamOptions.signal),
  };

  const tasks = {
    /**
     * Runs a one-shot task in a session (answered asynchronously), sent with an Idempotency-Key of
     * its own so that a retry never runs it twice.
     * @example const task = await client.tasks.create(id, { task: 'Summarize as JSON' }); const { result_json } = await task.wait();
     */
    async create(sessionId: string, body: CreateTaskBody, createOptions: { idempotencyKey?: string } = {}): Promise<TaskHandle> {
      const accepted = await http.json<CreateTaskAnswer>('POST', `${sessionPath(sessionId)}/ctx`, {
        body,
        retryable: true,
        headers: { 'idempotency-key': createOptions.idempotencyKey ?? idempotencyKey() },
      });
      return {
        ...accepted,
        wait: (waitOptions) => tasks.wait(sessionId, accepted.ctx_id, waitOptions),
        stream: (streamOptions) => tasks.stream(sessionId, accepted.ctx_id, streamOptions),
        cancel: () => tasks.cancel(sessionId, accepted.ctx_id),
      };
    },
    /** One task; with `wait` (1..20 s), as soon as it has finished. @example await client.tasks.get(id, ctxId) */
    get: (sessionId: string, ctxId: string, query: { wait?: number } = {}) => http.json<GetTaskAnswer>('GET', taskPath(sessionId, ctxId), { query, retryable: true }),
    /** Waits for a task to finish. @example const task = await client.tasks.wait(id, ctxId) */
    wait: (sessionId: string, ctxId: string, waitOptions?: WaitOptions) => waitFor<Task>(http, taskPath(sessionId, ctxId), TASK_DONE, waitOptions),
    /** A task's result as it is written. @example for await (const text of client.tasks.stream(id, ctxId)) ... */
    stream: (sessionId: string, ctxId: string, streamOptions: { signal?: AbortSignal } = {}) => followStream<Task>(http, `${taskPath(sessionId, ctxId)}/stream`, streamOptions.signal),
    /** Stops a task. @example await client.tasks.cancel(id, ctxId) */
    cancel: (sessionId: string, ctxId: string) => http.json<CancelTaskAnswer>('POST', `${taskPath(sessionId, ctxId)}/cancel`, { retryable: true }),
  };

  const usage = {
    /**
     * The organization's token usage over UTC days (org admins; at most 92 days, this month by
     * default), grouped by day, model or user.
     * @example const { totals, items } = await client.usage.get({ from: '2026-12-01', group_by: 'model' })
     */
    get: (query: { from?: string; to?: string; group_by?: 'day' | 'model' | 'user' } = {}) => http.json<GetUsageAnswer>('GET', '/usage', { query, retryable: true }),
  };

  const users = {
    /**
     * Erases everything of a user in the organization: sessions, messages, tasks, idempotency records
     * and usage rows (`me` for oneself; org admins for any member). Asking again is harmless.
     * @example await client.users.erase('me') // { status: 'accepted' }
     */
    erase: (userId: string) => http.json<EraseUserDataAnswer>('DELETE', `/users/${encodeURIComponent(userId)}/data`, { retryable: true }),
  };

  return {
    sessions,
    messages,
    tasks,
    usage,
    users,
    /**
     * Asks a question in a session (answered asynchronously), sent with an Idempotency-Key of its
     * own so that a retried POST never asks twice. The answer can be waited for, streamed or cancelled.
     * @example
     * const ask = await client.ask(sessionId, { message: 'And the dose?' });
     * const answer = await ask.wait(); // or: for await (const text of ask.stream()) ...
     */
    async ask(sessionId: string, body: AskBody, askOptions: { idempotencyKey?: string } = {}): Promise<AskHandle> {
      const accepted = await http.json<AskAnswer>('POST', `${sessionPath(sessionId)}/ask`, {
        body,
        retryable: true,
        headers: { 'idempotency-key': askOptions.idempotencyKey ?? idempotencyKey() },
      });
      return {
        ...accepted,
        wait: (waitOptions) => messages.wait(sessionId, accepted.message_id, waitOptions),
        stream: (streamOptions) => messages.stream(sessionId, accepted.message_id, streamOptions),
        cancel: () => messages.cancel(sessionId, accepted.message_id),
      };
    },
  };
}

export type Client = ReturnType<typeof createClient>;
