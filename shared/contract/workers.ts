import type { QueueId } from './queues.js';

/**
 * The queue consumers, defined once for the CDK stack (an event source mapping each) and the local
 * stack (a poller each). `entry` is relative to the project root and exports `handler`.
 */
export interface WorkerDefinition {
  /** The function's logical name, e.g. in CDK ids and logs. */
  readonly name: string;
  readonly queue: QueueId;
  /** Consumes the queue's dead-letter queue instead of the queue. */
  readonly deadLetter: boolean;
  readonly entry: string;
  /** Batches handled at once. */
  readonly maxConcurrency: number;
}

export const WORKERS: readonly WorkerDefinition[] = [
  { name: 'AskWorker', queue: 'ask', deadLetter: false, entry: 'functions/workers/ask.ts', maxConcurrency: 10 },
  { name: 'CtxWorker', queue: 'ctx', deadLetter: false, entry: 'functions/workers/task.ts', maxConcurrency: 10 },
  { name: 'AskDeadLetters', queue: 'ask', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2 },
  { name: 'CtxDeadLetters', queue: 'ctx', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2 },
];
