import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { MiddlewareObj } from '@middy/core';
import { env } from './env.js';

/**
 * Powertools logger (JSON lines with the Lambda context), metrics (CloudWatch embedded metric
 * format, published after each invocation by the api and jobs middlewares) and tracer (X-Ray; it
 * turns itself off outside Lambda). They are made once per process, so the service name and the
 * stage are read at import. Keys, tokens and message content are never logged nor measured: ids, sizes, reasons, counts.
 */
const serviceName = env.serviceName();
export const logger = new Logger({ serviceName });
/** The namespace of the project's metrics; each carries the dimensions `service` and `stage` (the alarms read them so). */
export const METRIC_NAMESPACE = 'AiChat';
export const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName, defaultDimensions: { stage: env.stage() } });
export const tracer = new Tracer({ serviceName });
export { MetricUnit };

/** The names of the project's own metrics (the alarms and dashboards read these). */
export type MetricName =
  | 'AnswerCompleted'
  | 'AnswerFailed'
  | 'TaskCompleted'
  | 'TaskFailed'
  | 'ModelLatency'
  | 'QueueWait'
  | 'ModelCallRetried'
  | 'QueueUnavailable'
  | 'JobQueued'
  | 'RateLimited';

/** Records one of the project's metrics. */
export function addMetric(name: MetricName, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void {
  metrics.addMetric(name, unit, value);
}

/**
 * A middleware that publishes the metrics an invocation recorded, if any (Powertools' own
 * middleware warns on every invocation that recorded none, and most API calls record none).
 * @example handler.use(publishMetrics())
 */
export function publishMetrics(): MiddlewareObj {
  const publish = (): void => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: publish, onError: publish };
}
