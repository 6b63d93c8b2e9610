import type middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { jsonResponse } from '../responses.js';
import { requestIdOf, type ApiEvent } from '../types.js';

/**
 * Turns what the route's function returned (its body) into the API Gateway answer: the route's
 * success status, JSON, and the headers every answer carries.
 * @example handler.use(jsonAnswer({ status: 201 }))
 */
export function jsonAnswer(options: { status: number }): middy.MiddlewareObj<ApiEvent, APIGatewayProxyResultV2> {
  return {
    after: (request) => {
      request.response = jsonResponse(options.status, request.response, requestIdOf(request.event, request.context));
    },
  };
}
