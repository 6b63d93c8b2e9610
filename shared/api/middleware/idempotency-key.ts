import { cleanupMiddlewares } from '@aws-lambda-powertools/commons';
import type middy from '@middy/core';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import type { IdempotencyRecords, IdempotentRequest } from '../../idempotency/records.js';
import { logger } from '../../platform/observability.js';
import { jsonResponse } from '../responses.js';
import { requestIdOf, type ApiEvent } from '../types.js';

const HEADER = 'idempotency-key';

/**
 * Runs a request under its `Idempotency-Key` header: the first run's answer is stored and replayed
 * to its retries (marked `idempotent-replayed: true`, the function not run again); a run that fails
 * leaves nothing behind, so its retry runs again. Without the header it does nothing. Use it after
 * authentication (records are per user) and validation (a bad request holds no key).
 * @example handler.use(idempotencyKey({ records: () => dynamoIdempotencyRecords(defaultDb()), status: 202 }))
 */
export function idempotencyKey(options: { records: () => IdempotencyRecords; status: number }): middy.MiddlewareObj<ApiEvent, APIGatewayProxyResultV2> {
  // One invocation at a time per Lambda instance, but the local gateway runs many at once: keep
  // each request's handle on the request itself.
  const started = new WeakMap<object, IdempotentRequest>();
  return {
    before: async (request) => {
      const { event } = request;
      const key = event.headers?.[HEADER];
      if (key === undefined) return;
      const begun = await options.records().begin(event.principal!, key, {
        method: event.requestContext.http.method,
        path: event.rawPath,
        body: event.parsedBody,
      });
      if ('started' in begun) {
        started.set(request, begun.started);
        return;
      }
      // An early answer skips the after phase of the middlewares before this one (the logger's
      // keys): Powertools' cleanup does their part.
      await cleanupMiddlewares(request);
      return jsonResponse(begun.replay.status, begun.replay.body, requestIdOf(event, request.context), { 'idempotent-replayed': 'true' });
    },
    after: async (request) => {
      const run = started.get(request);
      if (!run) return;
      // The request has run: from here on its key is kept, even if storing the answer fails.
      started.delete(request);
      await options.records().finish(run, { status: options.status, body: request.response });
    },
    onError: async (request) => {
      const run = started.get(request);
      if (!run) return;
      await options
        .records()
        .abandon(run)
        .catch((cleanup: Error) => logger.warn('could not release an idempotency key', { error: cleanup.name }));
    },
  };
}
