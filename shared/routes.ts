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
}

export const ROUTES: readonly Route[] = [
  { name: 'CreateSession', method: 'POST', path: '/openai/sessions', entry: 'functions/sessions/create.ts' },
  { name: 'ListSessions', method: 'GET', path: '/openai/sessions', entry: 'functions/sessions/list.ts' },
  { name: 'GetSession', method: 'GET', path: '/openai/sessions/{session_id}', entry: 'functions/sessions/get.ts' },
  { name: 'UpdateSession', method: 'PATCH', path: '/openai/sessions/{session_id}', entry: 'functions/sessions/update.ts' },
  { name: 'DeleteSession', method: 'DELETE', path: '/openai/sessions/{session_id}', entry: 'functions/sessions/delete.ts' },
  { name: 'NotFound', method: 'ANY', path: '$default', entry: 'functions/not-found.ts' },
];

/** The API Gateway route key, e.g. `GET /openai/sessions/{session_id}`. */
export const routeKey = (route: Route): string => (route.path === '$default' ? '$default' : `${route.method} ${route.path}`);
