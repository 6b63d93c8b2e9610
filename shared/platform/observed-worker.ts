import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { injectLambdaContext } from './logger.js';
import { logger, publishMetrics } from './observability.js';
import { tracing } from './tracing.js';

/**
 * A queue consumer with the logger's Lambda context, tracing (workers only) and the project's metrics.
 * @example export const handler = observedWorker(async (event, context) => ({ batchItemFailures: [] }));
 */
export function observedWorker(handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>) {
  return middy(handler).use(injectLambdaContext()).use(tracing()).use(publishMetrics());
}

/**
 * A record's body checked against its schema, or undefined (logged, by the record's id only) when
 * it is not JSON or not of that shape: such a record is dropped, not retried.
 * @example const job = recordBody(record, ErasureJob, 'the erasure queue'); if (!job) return;
 */
export function recordBody<T>(record: SQSRecord, schema: { safeParse(value: unknown): { success: true; data: T } | { success: false } }, queue: string): T | undefined {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = undefined;
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  logger.error(`dropped a malformed record of ${queue}`, { message_id: record.messageId });
  return undefined;
}
