import { deadLetterWorker } from '../../shared/jobs/sqs-worker.js';

/** Consumer of both dead-letter queues: fails each dead job's message or task with a sentence. */
export const handler = deadLetterWorker();
