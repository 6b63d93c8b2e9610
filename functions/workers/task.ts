import { jobWorker } from '../../shared/jobs/sqs-worker.js';

/** Consumer of the task queue (`ctx`). */
export const handler = jobWorker('ctx');
