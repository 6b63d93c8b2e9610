import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import { observedWorker, recordBody } from '../platform/observed-worker.js';
import { ErasureJob } from './schema.js';
import { defaultErasureService, type ErasureService } from './service.js';

/**
 * The consumer of the erasure queue: each record is a pass of one user's erasure (the rest of what
 * the request had no time for, or the last pass). A pass that fails is tried again after the queue's
 * visibility, up to five times, then goes to the dead-letter queue, where an alarm watches; a record
 * that is not a pass is dropped, logged.
 */
export function erasureWorker(service: () => ErasureService = defaultErasureService) {
  return observedWorker(async (event, context) => {
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const job = recordBody(record, ErasureJob, 'the erasure queue');
      if (!job) return;
      // A batch's passes run side by side, each within the pass budget, inside the worker's timeout.
      await service().pass(job);
    };
    return processPartialResponse(event, handleRecord, new BatchProcessor(EventType.SQS), { context, throwOnFullBatchFailure: false });
  });
}
