import type middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { errorResponse } from '../responses.js';
import { requestIdOf, type ApiEvent } from '../types.js';

/**
 * Answers any error in the contract's shape `{error, code}` with its status (AppError kinds, 503
 * for a busy backend, 500 with the request id for anything unexpected, which is logged). Use it
 * before the middlewares whose errors it answers.
 * @example handler.use(errorAnswer())
 */
export function errorAnswer(): middy.MiddlewareObj<ApiEvent, APIGatewayProxyResultV2> {
  return {
    onError: (request) => {
      request.response = errorResponse(request.error, requestIdOf(request.event, request.context));
    },
  };
}
