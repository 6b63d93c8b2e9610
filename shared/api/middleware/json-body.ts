import type middy from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import { AppError, invalid } from '../../platform/errors.js';
import type { ApiEvent } from '../types.js';

/**
 * Parses a JSON body with middy's parser onto `event.parsedBody`, answering the contract's 400
 * `invalid_json` and 415 `unsupported_media_type` instead of middy's 422. An empty body is no body.
 * @example handler.use(jsonBody())
 */
export function jsonBody(): middy.MiddlewareObj<ApiEvent> {
  const parser = httpJsonBodyParser();
  return {
    before: async (request) => {
      const { event } = request;
      if (event.body === undefined || event.body === null || event.body === '') return;
      try {
        await parser.before!(request as never);
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (status === 415) {
          throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.');
        }
        if (status && status < 500) throw invalid('The request body is not valid JSON.', 'invalid_json');
        throw error;
      }
      event.parsedBody = event.body;
    },
  };
}
