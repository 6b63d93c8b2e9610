import middy from '@middy/core';
import { executionModeStreamifyResponse } from '@middy/core/StreamifyResponse';
import { Readable } from 'node:stream';
import type { RouteDefinition } from '../contract/routes.js';
import type { FollowEvent } from '../jobs/following.js';
import { injectLambdaContext } from '../platform/logger.js';
import { logger, publishMetrics } from '../platform/observability.js';
import { clerkAuth } from './middleware/clerk-auth.js';
import { errorAnswer } from './middleware/error-answer.js';
import { requestValidation } from './middleware/request-validation.js';
import { SSE_HEADERS, sseText } from './sse.js';
import { apiRequestOf, type ApiEvent, type ApiRequest } from './types.js';

/**
 * Builds the response-streaming Lambda handler of a stream route (`awslambda.streamifyResponse`
 * through middy's streaming mode): the same logger, metrics, error answers, Clerk authentication and
 * validation as every route, so that anything refused before the stream starts is the usual JSON
 * error; then the events `run` yields, as Server-Sent Events, until they end or the client leaves
 * (the response stream closes, which ends the iteration).
 * @example
 * export const handler = streamHandler(routes.StreamMessage, ({ principal, params, headers }) =>
 *   defaultMessageService().follow(principal, params.session_id, params.message_id, resumePoint(headers)));
 */
export function streamHandler<Route extends RouteDefinition>(route: Route, run: (request: ApiRequest<Route>) => Promise<AsyncIterable<FollowEvent>>) {
  return middy<ApiEvent, unknown>({ executionMode: executionModeStreamifyResponse })
    .use(injectLambdaContext())
    .use(publishMetrics())
    .use(errorAnswer())
    .use(clerkAuth())
    .use(requestValidation(route))
    .handler(async (event, context) => {
      const request = apiRequestOf<Route>(event, context);
      const events = await run(request);
      return { statusCode: 200, headers: { ...SSE_HEADERS, 'x-request-id': request.requestId }, body: Readable.from(sseText(events)) };
    });
}
