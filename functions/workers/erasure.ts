import { erasureWorker } from '../../shared/erasure/erasure-worker.js';

/** Consumer of the erasure queue: finishes a user's erasure the request had no time for, and makes its last pass. */
export const handler = erasureWorker();
