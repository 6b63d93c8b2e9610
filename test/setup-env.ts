// Every test process: no Clerk telemetry, and only errors from the Powertools logger.
process.env.CLERK_TELEMETRY_DISABLED = '1';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.AWS_REGION ??= 'us-east-1';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
