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
  /** Its table access: `write` to answer jobs; `settle` (read an item, update it) to fail a dead job's item. */
  readonly table: 'write' | 'settle';
  /** Memory in MB: the answering workers parse and stream model answers; a dead-letter consumer does two small calls. */
  readonly memoryMb: number;
}

export const WORKERS: readonly WorkerDefinition[] = [
  { name: 'AskWorker', queue: 'ask', deadLetter: false, entry: 'functions/workers/ask.ts', maxConcurrency: 10, table: 'write', memoryMb: 1024 },
  { name: 'CtxWorker', queue: 'ctx', deadLetter: false, entry: 'functions/workers/task.ts', maxConcurrency: 10, table: 'write', memoryMb: 1024 },
  { name: 'AskDeadLetters', queue: 'ask', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', memoryMb: 256 },
  { name: 'CtxDeadLetters', queue: 'ctx', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', memoryMb: 256 },
];
