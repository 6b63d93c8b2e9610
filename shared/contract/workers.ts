import type { QueueId } from './queues.js';

/**
 * The queue consumers, defined once for the CDK stack (an event source mapping each) and the local
 * stack (a poller each). `entry` is relative to the project root and exports `handler`.
 */
export interface WorkerDefinition {
  /** The function's logical name, e.g. in CDK ids and logs. */
  readonly name: string;
  readonly queue: QueueId;
  /**
   * What it does, and so what it may do: `answer` jobs (the table, its own queue, the organizations'
   * keys through the tenant role), fail `dead-letters` (read and update an item), `deliver` webhook
   * events (no table; the webhook secrets; the internet), `erase` a user's data (the table, its own
   * queue).
   */
  readonly purpose: 'answer' | 'dead-letters' | 'deliver' | 'erase';
  /** Consumes the queue's dead-letter queue instead of the queue. */
  readonly deadLetter: boolean;
  readonly entry: string;
  /** Batches handled at once: the local poller's; in AWS the answering workers' is the stage's `workerMaxConcurrency`. */
  readonly maxConcurrency: number;
  /** Its table access: `write` to answer jobs or erase; `settle` (read an item, update it) to fail a dead job's item; `none`. */
  readonly table: 'write' | 'settle' | 'none';
  /** Sends the events of the items it settles to the webhooks queue (events/). */
  readonly publishesEvents: boolean;
  /**
   * Memory in MB (and so CPU share): an answering worker mostly waits on model calls (up to 10 of a
   * batch at once), billed by the GB-second, so it is sized for waiting; a dead-letter consumer does
   * two small calls.
   */
  readonly memoryMb: number;
  /** Its timeout, when not WORKER_TIMEOUT_SECONDS. */
  readonly timeoutSeconds?: number;
}

export const WORKERS: readonly WorkerDefinition[] = [
  { name: 'AskWorker', queue: 'ask', purpose: 'answer', deadLetter: false, entry: 'functions/workers/ask.ts', maxConcurrency: 10, table: 'write', publishesEvents: true, memoryMb: 256 },
  { name: 'CtxWorker', queue: 'ctx', purpose: 'answer', deadLetter: false, entry: 'functions/workers/task.ts', maxConcurrency: 10, table: 'write', publishesEvents: true, memoryMb: 256 },
  { name: 'AskDeadLetters', queue: 'ask', purpose: 'dead-letters', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', publishesEvents: true, memoryMb: 256 },
  { name: 'CtxDeadLetters', queue: 'ctx', purpose: 'dead-letters', deadLetter: true, entry: 'functions/workers/dead-letters.ts', maxConcurrency: 2, table: 'settle', publishesEvents: true, memoryMb: 256 },
  // Each try waits 10 s at most, and a batch's events go side by side.
  { name: 'WebhookDelivery', queue: 'webhooks', purpose: 'deliver', deadLetter: false, entry: 'functions/workers/webhooks.ts', maxConcurrency: 5, table: 'none', publishesEvents: false, memoryMb: 256, timeoutSeconds: 30 },
  // A pass erases for 40 s at most (erasure/service.ts), then queues the next.
  { name: 'Erasure', queue: 'erasure', purpose: 'erase', deadLetter: false, entry: 'functions/workers/erasure.ts', maxConcurrency: 2, table: 'write', publishesEvents: false, memoryMb: 256, timeoutSeconds: 60 },
];
