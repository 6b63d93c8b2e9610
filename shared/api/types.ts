import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import type { Principal } from '../auth/principal.js';
import type { RouteDefinition } from '../contract/routes.js';

/** A route's validated input, as the request-validation middleware leaves it on the event. */
export interface RouteInput {
  params: unknown;
  query: unknown;
  body: unknown;
}

/** The API Gateway (payload 2.0) event as the middlewares pass it along. */
export type ApiEvent = APIGatewayProxyEventV2 & {
  /** The JSON body, parsed by json-body (undefined when there is none). */
  parsedBody?: unknown;
  /** The verified caller, set by clerk-auth. */
  principal?: Principal;
  /** Path parameters, query and body checked against the route's schemas, set by request-validation. */
  input?: RouteInput;
};

type Output<S> = S extends z.ZodMiniType ? z.output<S> : undefined;

/** What a route's function gets: the verified caller and its validated input. */
export interface ApiRequest<Route extends RouteDefinition> {
  principal: Principal;
  params: Output<Route['params']>;
  query: Output<Route['query']>;
  body: Output<Route['body']>;
  headers: Record<string, string | undefined>;
  requestId: string;
  lambdaContext: Context;
}

/** What a route's function answers: the body of its success status, shaped as its response schema says. */
export type ApiResponse<Route extends RouteDefinition> = z.input<NonNullable<Route['response']>>;

/** The request id every answer carries: API Gateway's, or Lambda's when there is none. */
export const requestIdOf = (event: APIGatewayProxyEventV2, context: Context): string =>
  event.requestContext?.requestId ?? context.awsRequestId;

/** What a route's function is given, once the middlewares have authenticated and validated the event. */
export function apiRequestOf<Route extends RouteDefinition>(event: ApiEvent, context: Context): ApiRequest<Route> {
  const input = event.input!;
  return {
    principal: event.principal!,
    params: input.params,
    query: input.query,
    body: input.body,
    headers: event.headers ?? {},
    requestId: requestIdOf(event, context),
    lambdaContext: context,
  } as ApiRequest<Route>;
}
