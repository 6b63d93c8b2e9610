import { createLogger } from './logger.js';
import type { MiddlewareObj } from '@middy/core';
import { env } from './env.js';

/**
 * The logger (JSON lines with the Lambda context, ./logger.ts) and the project's metrics (CloudWatch
 * embedded metric format, published after each invocation by the api and jobs middlewares); tracing
 * is in ./tracing.ts. They are made once per process, so the service name and the stage are read at import. Keys, tokens and message content are never logged nor measured: ids, sizes, reasons, counts.
 */
const serviceName = env.serviceName();
export const logger = createLogger(serviceName ?? 'ai-chat');
/** The namespace of the project's metrics; each carries the dimensions `service` and `stage` (the alarms read them so). */
export const METRIC_NAMESPACE = 'AiChat';
export const MetricUnit = { Count: 'Count', Milliseconds: 'Milliseconds' } as const;

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
  | 'RateLimited'
  | 'BudgetExhausted'
  | 'UsageNotCounted'
  | 'EventNotQueued'
  | 'WebhookDelivered'
  | 'WebhookFailed';

/** Values recorded since the last publish, by metric. */
const stored = new Map<MetricName, { unit: string; values: number[] }>();

/** Records one of the project's metrics; they are published when the invocation ends. */
export function addMetric(name: MetricName, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void {
  const metric = stored.get(name) ?? { unit, values: [] };
  metric.values.push(value);
  stored.set(name, metric);
}

/**
 * Writes the recorded metrics as one line of CloudWatch's embedded metric format (EMF), which
 * CloudWatch turns into metrics from the function's log: namespace AiChat, dimensions service and
 * stage. (Powertools' Metrics writes the same; these few lines keep its 12 KB and `node:console` out
 * of every cold start.) Nothing is written with `POWERTOOLS_METRICS_DISABLED=true` (npm start).
 */
function publishStoredMetrics(): void {
  if (!stored.size) return;
  const metrics = [...stored];
  stored.clear();
  if (process.env.POWERTOOLS_METRICS_DISABLED === 'true') return;
  const stage = env.stage();
  process.stdout.write(
    `${JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: METRIC_NAMESPACE, Dimensions: [['service', 'stage']], Metrics: metrics.map(([name, { unit }]) => ({ Name: name, Unit: unit })) }],
      },
      service: serviceName,
      stage,
      ...Object.fromEntries(metrics.map(([name, { values }]) => [name, values.length === 1 ? values[0] : values])),
    })}\n`,
  );
}

/**
 * A middleware that publishes the metrics an invocation recorded, if any.
 * @example handler.use(publishMetrics())
 */
export function publishMetrics(): MiddlewareObj {
  return { after: publishStoredMetrics, onError: publishStoredMetrics };
}
