import { jobWorker } from '../../shared/jobs/sqs-worker.js';

/** Consumer of the FIFO ask queue: answers each session's asks in order. */
export const handler = jobWorker('ask');
