import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { injectLambdaContext } from './logger.js';
import { publishMetrics } from './observability.js';
import { tracing } from './tracing.js';

/**
 * A queue consumer with the logger's Lambda context, tracing (workers only) and the project's metrics.
 * @example export const handler = observedWorker(async (event, context) => ({ batchItemFailures: [] }));
 */
export function observedWorker(handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) {
  return middy(handler).use(injectLambdaContext()).use(tracing()).use(publishMetrics());
}
