import type * as z from 'zod/mini';
import {
  AskAccepted,
  AskBody,
  CreateMessageBody,
  ListMessagesQuery,
  MessageDeleted,
  MessagePage,
  MessagePathParams,
  MessageSchema,
} from '../messages/schema.js';
import { ErrorBodySchema, WaitQuery } from '../platform/schema-parts.js';
import {
  CreateSessionBody,
  ListSessionsQuery,
  SessionDeleted,
  SessionPage,
  SessionPathParams,
  SessionSchema,
  UpdateSessionBody,
} from '../sessions/schema.js';
import { CreateTaskBody, TaskAccepted, TaskPathParams, TaskSchema } from '../tasks/schema.js';
import { UsageQuery, UsageReportSchema } from '../usage/schema.js';
import { ErasureAccepted, ErasurePathParams } from '../erasure/schema.js';
import type { QueueId } from './queues.js';

/**
 * One route of the HTTP API, defined once. This definition drives the handler wrapper
 * (shared/api/handler.ts: validation, idempotency, success status), the CDK routes and their
 * permissions (infra/api.ts), the local gateway (bin/local/gateway.ts) and the OpenAPI document
 * (bin/openapi/document.ts).
 */
export interface RouteDefinition {
  /** The function's logical name, e.g. in CDK ids, logs and the OpenAPI operationId. */
  readonly name: string;
  /** The OpenAPI summary. */
  readonly summary: string;
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'ANY';
  /** API Gateway's path syntax, `{name}` for a parameter; `$default` catches what no other route does. */
  readonly path: string;
  /** The handler module, relative to the project root; it exports `handler`. */
  readonly entry: string;
  /** What the route does with the table: its function gets that and no more. */
  readonly table: 'read' | 'write' | 'none';
  /** The job queue this route puts work on: only these routes may send to it. */
  readonly enqueues?: QueueId;
  /** Sends the events of the items it settles (a cancel) to the webhooks queue. */
  readonly publishesEvents?: true;
  /** Path parameters; ids that fail it name nothing, so they answer 404 `<notFoundName> not found.` */
  readonly params?: z.ZodMiniObject;
  readonly notFoundName?: string;
  readonly query?: z.ZodMiniObject;
  /** The JSON body's schema; a route without one takes no body. */
  readonly body?: z.ZodMiniType;
  /** The success status and the schema of what it answers. */
  readonly status: number;
  readonly response: z.ZodMiniType;
  /** Honours an `Idempotency-Key` header: a retried POST gets the first answer instead of running twice. */
  readonly idempotent?: boolean;
  /** The function's timeout, when the route may take longer than the default 10 s (`?wait=`). */
  readonly timeoutSeconds?: number;
  /**
   * Answers Server-Sent Events (`text/event-stream`) from a response-streaming handler
   * (shared/api/stream-handler.ts); `response` is then the schema of its `done` event's data.
   */
  readonly stream?: true;
}

/** A stream may run 5 minutes; its function a little longer, to end it cleanly. */
const STREAM_ROUTE_TIMEOUT_SECONDS = 310;

/** A `?wait=` of up to WAIT_MAX_SECONDS, and the read that must still follow it, fit in this. */
const WAITING_ROUTE_TIMEOUT_SECONDS = 28;

const route = <const Definition extends RouteDefinition>(definition: Definition): Definition => definition;

const SESSION = '/openai/sessions/{session_id}';

// Reading a message or a task may fail it past its deadline, so those GETs write too.
export const routes = {
  CreateSession: route({
    name: 'CreateSession',
    summary: 'Create a session',
    method: 'POST',
    path: '/openai/sessions',
    entry: 'functions/sessions/create.ts',
    table: 'write',
    body: CreateSessionBody,
    status: 201,
    response: SessionSchema,
  }),
  ListSessions: route({
    name: 'ListSessions',
    summary: "List the caller's sessions, newest first",
    method: 'GET',
    path: '/openai/sessions',
    entry: 'functions/sessions/list.ts',
    table: 'read',
    query: ListSessionsQuery,
    status: 200,
    response: SessionPage,
  }),
  GetSession: route({
    name: 'GetSession',
    summary: 'Read a session',
    method: 'GET',
    path: SESSION,
    entry: 'functions/sessions/get.ts',
    table: 'read',
    params: SessionPathParams,
    notFoundName: 'Session',
    status: 200,
    response: SessionSchema,
  }),
  UpdateSession: route({
    name: 'UpdateSession',
    summary: 'Rename, re-prompt or end a session',
    method: 'PATCH',
    path: SESSION,
    entry: 'functions/sessions/update.ts',
    table: 'write',
    params: SessionPathParams,
    notFoundName: 'Session',
    body: UpdateSessionBody,
    status: 200,
    response: SessionSchema,
  }),
  DeleteSession: route({
    name: 'DeleteSession',
    summary: 'Delete a session with its messages and tasks',
    method: 'DELETE',
    path: SESSION,
    entry: 'functions/sessions/delete.ts',
    table: 'write',
    params: SessionPathParams,
    notFoundName: 'Session',
    status: 200,
    response: SessionDeleted,
  }),
  Ask: route({
    name: 'Ask',
    summary: 'Ask a question (answered asynchronously)',
    method: 'POST',
    path: `${SESSION}/ask`,
    entry: 'functions/messages/ask.ts',
    table: 'write',
    enqueues: 'ask',
    params: SessionPathParams,
    notFoundName: 'Session',
    body: AskBody,
    status: 202,
    response: AskAccepted,
    idempotent: true,
  }),
  ListMessages: route({
    name: 'ListMessages',
    summary: "List a session's messages",
    method: 'GET',
    path: `${SESSION}/messages`,
    entry: 'functions/messages/list.ts',
    table: 'write',
    params: SessionPathParams,
    notFoundName: 'Session',
    query: ListMessagesQuery,
    status: 200,
    response: MessagePage,
  }),
  CreateMessage: route({
    name: 'CreateMessage',
    summary: 'Add a message written elsewhere',
    method: 'POST',
    path: `${SESSION}/messages`,
    entry: 'functions/messages/create.ts',
    table: 'write',
    params: SessionPathParams,
    notFoundName: 'Session',
    body: CreateMessageBody,
    status: 201,
    response: MessageSchema,
  }),
  GetMessage: route({
    name: 'GetMessage',
    summary: 'Read a message (what pollers read)',
    method: 'GET',
    path: `${SESSION}/messages/{message_id}`,
    entry: 'functions/messages/get.ts',
    table: 'write',
    params: MessagePathParams,
    notFoundName: 'Message',
    query: WaitQuery,
    timeoutSeconds: WAITING_ROUTE_TIMEOUT_SECONDS,
    status: 200,
    response: MessageSchema,
  }),
  DeleteMessage: route({
    name: 'DeleteMessage',
    summary: 'Delete a message',
    method: 'DELETE',
    path: `${SESSION}/messages/{message_id}`,
    entry: 'functions/messages/delete.ts',
    table: 'write',
    params: MessagePathParams,
    notFoundName: 'Message',
    status: 200,
    response: MessageDeleted,
  }),
  StreamMessage: route({
    name: 'StreamMessage',
    summary: 'Follow an answer as it is generated (Server-Sent Events)',
    method: 'GET',
    path: `${SESSION}/messages/{message_id}/stream`,
    entry: 'functions/messages/stream.ts',
    table: 'write',
    params: MessagePathParams,
    notFoundName: 'Message',
    status: 200,
    response: MessageSchema,
    stream: true,
    timeoutSeconds: STREAM_ROUTE_TIMEOUT_SECONDS,
  }),
  CancelMessage: route({
    name: 'CancelMessage',
    summary: 'Cancel an answer that is waiting or being generated',
    method: 'POST',
    path: `${SESSION}/messages/{message_id}/cancel`,
    entry: 'functions/messages/cancel.ts',
    table: 'write',
    publishesEvents: true,
    params: MessagePathParams,
    notFoundName: 'Message',
    status: 200,
    response: MessageSchema,
  }),
  CreateTask: route({
    name: 'CreateTask',
    summary: 'Run a one-shot context task (asynchronously)',
    method: 'POST',
    path: `${SESSION}/ctx`,
    entry: 'functions/tasks/create.ts',
    table: 'write',
    enqueues: 'ctx',
    params: SessionPathParams,
    notFoundName: 'Session',
    body: CreateTaskBody,
    status: 202,
    response: TaskAccepted,
    idempotent: true,
  }),
  GetTask: route({
    name: 'GetTask',
    summary: 'Read a context task',
    method: 'GET',
    path: `${SESSION}/ctx/{ctx_id}`,
    entry: 'functions/tasks/get.ts',
    table: 'write',
    params: TaskPathParams,
    notFoundName: 'Context task',
    query: WaitQuery,
    timeoutSeconds: WAITING_ROUTE_TIMEOUT_SECONDS,
    status: 200,
    response: TaskSchema,
  }),
  StreamTask: route({
    name: 'StreamTask',
    summary: 'Follow a context task as it is answered (Server-Sent Events)',
    method: 'GET',
    path: `${SESSION}/ctx/{ctx_id}/stream`,
    entry: 'functions/tasks/stream.ts',
    table: 'write',
    params: TaskPathParams,
    notFoundName: 'Context task',
    status: 200,
    response: TaskSchema,
    stream: true,
    timeoutSeconds: STREAM_ROUTE_TIMEOUT_SECONDS,
  }),
  CancelTask: route({
    name: 'CancelTask',
    summary: 'Cancel a context task that is waiting or being answered',
    method: 'POST',
    path: `${SESSION}/ctx/{ctx_id}/cancel`,
    entry: 'functions/tasks/cancel.ts',
    table: 'write',
    publishesEvents: true,
    params: TaskPathParams,
    notFoundName: 'Context task',
    status: 200,
    response: TaskSchema,
  }),
  GetUsage: route({
    name: 'GetUsage',
    summary: "The organization's token usage over UTC days, by day, model or user (org admins)",
    method: 'GET',
    path: '/openai/usage',
    entry: 'functions/usage/get.ts',
    table: 'read',
    query: UsageQuery,
    status: 200,
    response: UsageReportSchema,
  }),
  EraseUserData: route({
    name: 'EraseUserData',
    summary: "Erase a user's data in the organization: sessions, messages, tasks, idempotency records, usage rows (me, or org admins)",
    method: 'DELETE',
    path: '/openai/users/{user_id}/data',
    entry: 'functions/users/erase.ts',
    table: 'write',
    // The rest of a big erasure, and its last pass.
    enqueues: 'erasure',
    params: ErasurePathParams,
    notFoundName: 'User',
    status: 202,
    response: ErasureAccepted,
    timeoutSeconds: WAITING_ROUTE_TIMEOUT_SECONDS,
  }),
  NotFound: route({
    name: 'NotFound',
    summary: 'Any method and path the API does not have',
    method: 'ANY',
    path: '$default',
    entry: 'functions/not-found.ts',
    table: 'none',
    status: 404,
    response: ErrorBodySchema,
  }),
} as const satisfies Record<string, RouteDefinition>;

/** Every route, in the order above. */
export const ROUTES: readonly RouteDefinition[] = Object.values(routes);

/** The API Gateway route key, e.g. `GET /openai/sessions/{session_id}`. */
export const routeKey = (definition: RouteDefinition): string =>
  definition.path === '$default' ? '$default' : `${definition.method} ${definition.path}`;
