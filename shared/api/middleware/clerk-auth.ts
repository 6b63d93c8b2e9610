import type middy from '@middy/core';
import { authenticate, clerkSettingsFromEnv, TokenRejected, type ClerkSettings } from '../../auth/clerk.js';
import { AppError } from '../../platform/errors.js';
import { logger } from '../../platform/observability.js';
import type { ApiEvent } from '../types.js';

/**
 * Verifies the Clerk session token of `Authorization: Bearer …` and puts the caller on
 * `event.principal`; a refusal answers 401 (or 403 without an active organization), its reason
 * goes to the log only. Settings default to Clerk's variables, read per request.
 * @example handler.use(clerkAuth())
 */
export function clerkAuth(options: { settings?: () => ClerkSettings } = {}): middy.MiddlewareObj<ApiEvent> {
  const settings = options.settings ?? clerkSettingsFromEnv;
  return {
    before: async ({ event }) => {
      try {
        // Behind the front, a stream function's `Authorization` holds CloudFront's signature: the front
        // copied the caller's token to `x-clerk-authorization` (infra/front-check.js).
        event.principal = await authenticate(event.headers?.['x-clerk-authorization'] ?? event.headers?.authorization, settings());
      } catch (error) {
        if (error instanceof TokenRejected) logger.warn('token rejected', { reason: error.reason });
        else if (error instanceof AppError) logger.warn('token refused', { code: error.code });
        throw error;
      }
    },
  };
}
