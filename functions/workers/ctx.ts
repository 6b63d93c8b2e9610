import { jobWorker } from '../../shared/jobs/worker.js';

/** Consumer of the context task queue. */
export const handler = jobWorker('ctx');
