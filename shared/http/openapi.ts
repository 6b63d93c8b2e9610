import * as z from 'zod/mini';
import { createDocument } from 'zod-openapi';
import { ErrorBodySchema, IdSchema } from '../schemas/common.js';
import {
  AskBody,
  CreateMessageBody,
  CreateTaskBody,
  ListMessagesQuery,
  MessagePathParams,
  MessageSchema,
  TaskPathParams,
  TaskSchema,
} from '../schemas/messages.js';
import { CreateSessionBody, ListSessionsQuery, SessionPathParams, SessionSchema, UpdateSessionBody } from '../schemas/sessions.js';
import { ROUTES, type Route } from '../routes.js';

const page = <T extends z.ZodMiniType>(item: T, id: string) =>
  z.object({ items: z.array(item), has_more: z.boolean(), next: z.nullable(z.string()) }).register(z.globalRegistry, { id });

const AskAccepted = z
  .object({ message_id: IdSchema, user_message_id: IdSchema, status: z.literal('PENDING') })
  .register(z.globalRegistry, { id: 'AskAccepted' });
const TaskAccepted = z.object({ ctx_id: IdSchema, status: z.literal('pending') }).register(z.globalRegistry, { id: 'ContextTaskAccepted' });
const SessionDeleted = z.object({ deleted: z.literal(true), session_id: IdSchema });
const MessageDeleted = z.object({ deleted: z.literal(true), message_id: IdSchema });

interface Operation {
  summary: string;
  body?: z.ZodMiniType;
  query?: z.ZodMiniObject;
  params?: z.ZodMiniObject;
  status: number;
  answer: z.ZodMiniType;
  idempotent?: boolean;
}

/** The request and answer schemas of each route: the same schemas the handlers validate with. */
export const OPERATIONS: Record<string, Operation> = {
  CreateSession: { summary: 'Create a session', body: CreateSessionBody, status: 201, answer: SessionSchema },
  ListSessions: { summary: "List the caller's sessions, newest first", query: ListSessionsQuery, status: 200, answer: page(SessionSchema, 'SessionPage') },
  GetSession: { summary: 'Read a session', params: SessionPathParams, status: 200, answer: SessionSchema },
  UpdateSession: { summary: 'Rename, re-prompt or end a session', params: SessionPathParams, body: UpdateSessionBody, status: 200, answer: SessionSchema },
  DeleteSession: { summary: 'Delete a session with its messages and tasks', params: SessionPathParams, status: 200, answer: SessionDeleted },
  Ask: { summary: 'Ask a question (answered asynchronously)', params: SessionPathParams, body: AskBody, status: 202, answer: AskAccepted, idempotent: true },
  ListMessages: { summary: "List a session's messages", params: SessionPathParams, query: ListMessagesQuery, status: 200, answer: page(MessageSchema, 'MessagePage') },
  CreateMessage: { summary: 'Add a message written elsewhere', params: SessionPathParams, body: CreateMessageBody, status: 201, answer: MessageSchema },
  GetMessage: { summary: 'Read a message (what pollers read)', params: MessagePathParams, status: 200, answer: MessageSchema },
  DeleteMessage: { summary: 'Delete a message', params: MessagePathParams, status: 200, answer: MessageDeleted },
  CreateTask: { summary: 'Run a one-shot context task (asynchronously)', params: SessionPathParams, body: CreateTaskBody, status: 202, answer: TaskAccepted, idempotent: true },
  GetTask: { summary: 'Read a context task', params: TaskPathParams, status: 200, answer: TaskSchema },
};

const ERRORS: Record<string, string> = {
  '400': 'Bad input: the sentence names the field.',
  '401': 'No token, or an invalid one.',
  '403': 'No active organization, or not the session owner.',
  '404': 'Not found (also anything of another tenant or user).',
  '409': 'State conflict: an ended session, or an Idempotency-Key still in use.',
  '413': 'Body over 256 KB.',
  '415': 'Body that is not JSON.',
  '422': 'Idempotency-Key reused for another request.',
  '429': 'Rate limited: see Retry-After.',
  '500': 'Unexpected: quote request_id.',
  '503': 'Briefly unavailable: see Retry-After.',
};

/** The OpenAPI 3.1 document of the API, made from the route table and the zod schemas. */
export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES.filter((candidate: Route) => candidate.path !== '$default')) {
    const operation = OPERATIONS[route.name];
    if (!operation) throw new Error(`No OpenAPI operation for route ${route.name}`);
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = {
      operationId: route.name,
      summary: operation.summary,
      security: [{ clerk: [] }],
      requestParams: {
        ...(operation.params ? { path: operation.params } : {}),
        ...(operation.query ? { query: operation.query } : {}),
        ...(operation.idempotent ? { header: z.object({ 'idempotency-key': z.optional(z.string()) }) } : {}),
      },
      ...(operation.body ? { requestBody: { content: { 'application/json': { schema: operation.body } } } } : {}),
      responses: {
        [String(operation.status)]: { description: 'OK', content: { 'application/json': { schema: operation.answer } } },
        ...Object.fromEntries(
          Object.entries(ERRORS).map(([status, description]) => [status, { description, content: { 'application/json': { schema: ErrorBodySchema } } }]),
        ),
      },
    };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'AI chat backend',
      version: '1.0.0',
      description: 'Multi-tenant AI chat sessions: asks and context tasks answered asynchronously. See docs/api.md.',
    },
    servers: [{ url: '/', description: 'The API base URL without /openai (locally http://127.0.0.1:3000)' }],
    components: { securitySchemes: { clerk: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A Clerk session token' } } },
    paths: paths as never,
  });
}
