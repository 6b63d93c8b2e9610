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
  /** Batches handled at once: the local poller's; in AWS the answering workers' is the stage's `workerMaxConcurrency`. */
  readonly maxConcurrency: number;
  /** Its table access: `write` to answer jobs; `settle` (read an item, update it) to fail a dead job's item. */
  readonly table: 'write' | 'settle';
  /**
   * Memory in MB (and so CPU share): an answering worker mostly waits on model calls (up to 10 of a
   * batch at once), billed by the GB-second, so it is sized for waiting; a dead-letter consumer does
   * two small calls.
   */
  readonly memoryMb: number;
}

export const WORKERS: readonly WorkerDefinition[] = [
  { name: 'AskWorker', queue: 'ask', deadLetter: false, entry: 'functions/workers/ask.ts', maxConcurrency: 10, table: 'write', memoryMb: 256 },
  { name: 'CtxWorker', queue: 'ctx', deadLetter: false, entry: 'functions/workers/task.ts', maxConcurrency: 10, table: 'write', memoryMb: 256 },
  { name: 'AskDeadLetters', queue: 'ask', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', memoryMb: 256 },
  { name: 'CtxDeadLetters', queue: 'ctx', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', memoryMb: 256 },
];
