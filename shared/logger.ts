import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger (Powertools: JSON lines with the Lambda context). Keys, tokens and message
 * content are never logged: log ids, sizes and reasons.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'ai-chat' });
