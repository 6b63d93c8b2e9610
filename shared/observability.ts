import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';

/**
 * Powertools metrics (CloudWatch embedded metric format, flushed after each invocation) and tracer
 * (X-Ray; it turns itself off outside Lambda). Metrics carry counts and durations only: no keys,
 * tokens or message content. The logger is in ./logger.ts.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'ai-chat';
export const metrics = new Metrics({ namespace: 'AiChat', serviceName });
export const tracer = new Tracer({ serviceName });
export { MetricUnit };

/**
 * Publishes the metrics an invocation recorded, if any (Powertools' own middleware warns on every
 * invocation that recorded none, and most API calls record none).
 */
export const publishMetrics: MiddlewareObj = {
  after: () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
  onError: () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  },
};
