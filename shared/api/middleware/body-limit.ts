import type middy from '@middy/core';
import { AppError } from '../../platform/errors.js';
import type { ApiEvent } from '../types.js';

/**
 * Refuses a body past `maxBytes` with 413 `body_too_large` (API Gateway itself lets 10 MB through).
 * @example handler.use(bodyLimit({ maxBytes: 256 * 1024 }))
 */
export function bodyLimit(options: { maxBytes: number }): middy.MiddlewareObj<ApiEvent> {
  return {
    before: ({ event }) => {
      if (!event.body) return;
      const bytes = Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
      if (bytes > options.maxBytes) {
        throw new AppError('too_large', 'body_too_large', `The request body is larger than the limit of ${options.maxBytes / 1024} KB.`);
      }
    },
  };
}
