import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/**
 * Powertools metrics (CloudWatch embedded metric format, flushed after each invocation) and tracer
 * (X-Ray; it turns itself off outside Lambda). Metrics carry counts and durations only: no keys,
 * tokens or message content. The logger is in ./logger.ts.
 */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'ai-chat';
export const metrics = new Metrics({ namespace: 'AiChat', serviceName });
export const tracer = new Tracer({ serviceName });
export { MetricUnit };
