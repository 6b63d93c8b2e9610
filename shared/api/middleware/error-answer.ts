import type middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { AppError, isBusyError, type ErrorKind } from '../../platform/errors.js';
import { logger } from '../../platform/observability.js';
import { jsonResponse } from '../responses.js';
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

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  idempotency_mismatch: 422,
  rate_limited: 429,
  unavailable: 503,
};

/** Turns any error into the contract's error answer `{error, code}`; unexpected ones are logged and hidden. */
function errorResponse(error: unknown, requestId: string): APIGatewayProxyResultV2 {
  if (error instanceof AppError) {
    const headers: Record<string, string> = {};
    if (error.details.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.details.retryAfterSeconds);
    return jsonResponse(STATUS[error.kind], { error: error.message, code: error.code }, requestId, headers);
  }
  // A busy backend is answered 503 with Retry-After rather than 500.
  if (isBusyError(error)) {
    logger.warn('backend busy', { error: (error as Error).name });
    return jsonResponse(
      503,
      { error: 'The service is busy right now. Try again in a moment.', code: 'service_unavailable' },
      requestId,
      { 'retry-after': '1' },
    );
  }
  logger.error('unexpected error', { error: (error as Error).name, stack: (error as Error).stack });
  return jsonResponse(
    500,
    {
      error: `Something went wrong on our side. If it keeps happening, report request id ${requestId}.`,
      code: 'internal_error',
      request_id: requestId,
    },
    requestId,
  );
}
