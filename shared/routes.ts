/**
 * The HTTP API's route table: the one source for the CDK stack (one Lambda per entry) and the local
 * gateway (which imports the same modules). `entry` is relative to the project root and exports `handler`.
 */
export interface Route {
  /** The function's logical name, e.g. in CDK ids and logs. */
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'ANY';
  /** API Gateway's path syntax, `{name}` for a parameter; `$default` catches what no other route does. */
  readonly path: string;
  readonly entry: string;
  /** What the route does with the table: its function gets that and no more. */
  readonly table: 'read' | 'write' | 'none';
  /** The job queue this route puts work on: only these routes may send to it. */
  readonly enqueues?: 'ask' | 'ctx';
}

// Reading a message or a task may fail it past its deadline, so those GETs write too.
export const ROUTES: readonly Route[] = [
  { name: 'CreateSession', method: 'POST', path: '/openai/sessions', table: 'write', entry: 'functions/sessions/create.ts' },
  { name: 'ListSessions', method: 'GET', path: '/openai/sessions', table: 'read', entry: 'functions/sessions/list.ts' },
  { name: 'GetSession', method: 'GET', path: '/openai/sessions/{session_id}', table: 'read', entry: 'functions/sessions/get.ts' },
  { name: 'UpdateSession', method: 'PATCH', path: '/openai/sessions/{session_id}', table: 'write', entry: 'functions/sessions/update.ts' },
  { name: 'DeleteSession', method: 'DELETE', path: '/openai/sessions/{session_id}', table: 'write', entry: 'functions/sessions/delete.ts' },
  { name: 'Ask', method: 'POST', path: '/openai/sessions/{session_id}/ask', table: 'write', entry: 'functions/ask/create.ts', enqueues: 'ask' },
  { name: 'ListMessages', method: 'GET', path: '/openai/sessions/{session_id}/messages', table: 'write', entry: 'functions/messages/list.ts' },
  { name: 'CreateMessage', method: 'POST', path: '/openai/sessions/{session_id}/messages', table: 'write', entry: 'functions/messages/create.ts' },
  { name: 'GetMessage', method: 'GET', path: '/openai/sessions/{session_id}/messages/{message_id}', table: 'write', entry: 'functions/messages/get.ts' },
  { name: 'DeleteMessage', method: 'DELETE', path: '/openai/sessions/{session_id}/messages/{message_id}', table: 'write', entry: 'functions/messages/delete.ts' },
  { name: 'CreateTask', method: 'POST', path: '/openai/sessions/{session_id}/ctx', table: 'write', entry: 'functions/ctx/create.ts', enqueues: 'ctx' },
  { name: 'GetTask', method: 'GET', path: '/openai/sessions/{session_id}/ctx/{ctx_id}', table: 'write', entry: 'functions/ctx/get.ts' },
  { name: 'NotFound', method: 'ANY', path: '$default', table: 'none', entry: 'functions/not-found.ts' },
];

/** The API Gateway route key, e.g. `GET /openai/sessions/{session_id}`. */
export const routeKey = (route: Route): string => (route.path === '$default' ? '$default' : `${route.method} ${route.path}`);
