import middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import type { RouteDefinition } from '../contract/routes.js';
import { dynamoIdempotencyRecords, type IdempotencyRecords } from '../idempotency/records.js';
import { LIMITS } from '../platform/limits.js';
import { injectLambdaContext } from '../platform/logger.js';
import { logger, publishMetrics } from '../platform/observability.js';
import { defaultDb } from '../store/client.js';
import { bodyLimit } from './middleware/body-limit.js';
import { clerkAuth } from './middleware/clerk-auth.js';
import { errorAnswer } from './middleware/error-answer.js';
import { idempotencyKey } from './middleware/idempotency-key.js';
import { jsonAnswer } from './middleware/json-answer.js';
import { jsonBody } from './middleware/json-body.js';
import { requestValidation } from './middleware/request-validation.js';
import { apiRequestOf, type ApiEvent, type ApiRequest, type ApiResponse } from './types.js';

/**
 * Builds the Lambda handler of one route from its definition (shared/contract/routes.ts): the
 * Powertools logger and metrics (tracing is Lambda's own, see platform/tracing.ts), the contract's error answers, the body limit, Clerk
 * authentication, JSON parsing, validation against the route's schemas and, for idempotent
 * routes, the `Idempotency-Key`; around a function that holds only the route's own logic and
 * returns the body of the route's success status.
 * @example
 * export const handler = apiHandler(routes.GetSession, ({ principal, params }) =>
 *   sessionService().get(principal, params.session_id));
 */
export function apiHandler<Route extends RouteDefinition>(route: Route, run: (request: ApiRequest<Route>) => Promise<ApiResponse<Route>>) {
  const handler = middy<ApiEvent, APIGatewayProxyResultV2>()
    .use(injectLambdaContext())
    .use(publishMetrics())
    .use(errorAnswer())
    .use(jsonAnswer({ status: route.status }))
    .use(bodyLimit({ maxBytes: LIMITS.maxBodyBytes }))
    .use(clerkAuth())
    .use(jsonBody())
    .use(requestValidation(route));
  if (route.idempotent) {
    let records: IdempotencyRecords | undefined;
    handler.use(idempotencyKey({ records: () => (records ??= dynamoIdempotencyRecords(defaultDb())), status: route.status }));
  }
  // The result is the body; json-answer gives it the route's status.
  return handler.handler(async (event, context) => (await run(apiRequestOf<Route>(event, context))) as unknown as APIGatewayProxyResultV2);
}
