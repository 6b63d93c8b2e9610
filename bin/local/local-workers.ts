import { SQSClient } from '@aws-sdk/client-sqs';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { QUEUE_SETTINGS, WORKER_TIMEOUT_SECONDS, type QueueId } from '../../shared/contract/queues.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { localCredentials } from './aws.js';
import { SqsPoller, type SqsHandler } from './poller.js';
import type { LocalQueue } from './sqs.js';

/** The queue consumers of the local stack, started and stopped together. */
export interface LocalWorkers {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What the workers need to know of the queues and the handlers: plain data, so that a thread can be given it. */
export interface WorkerSetup {
  queues: Record<QueueId, LocalQueue>;
  sqsEndpoint: string;
  /** The module file of each worker (by its name in shared/contract/workers.ts). */
  entries: Record<string, string>;
}

/**
 * One poller per worker of `shared/contract/workers.ts`, as the stack's event source mappings: the
 * worker's queue (or dead-letter queue), batch size, concurrency and timeout. `client` is the SQS
 * client they poll and delete with (a test puts a fault proxy in its way).
 */
export function workerPollers(
  queues: Record<QueueId, LocalQueue>,
  options: { client: SQSClient; entryFile: (entry: string) => string; log?: (line: string) => void },
): SqsPoller[] {
  return WORKERS.map((worker) => {
    const queue = queues[worker.queue];
    return new SqsPoller({
      client: options.client,
      queueUrl: worker.deadLetter ? queue.deadLetterUrl : queue.url,
      queueArn: worker.deadLetter ? queue.deadLetterArn : queue.arn,
      fifo: queue.definition.fifo,
      functionName: worker.name,
      batchSize: QUEUE_SETTINGS.batchSize,
      maxConcurrency: worker.maxConcurrency,
      timeoutSeconds: worker.timeoutSeconds ?? WORKER_TIMEOUT_SECONDS,
      loadHandler: async () => (await import(pathToFileURL(options.entryFile(worker.entry)).href)).handler as SqsHandler,
      log: options.log,
    });
  });
}

/** The pollers in this thread, sharing its module instances with the API handlers (tests reach into them). */
export function inProcessWorkers(setup: WorkerSetup, log?: (line: string) => void): LocalWorkers {
  const client = new SQSClient({ endpoint: setup.sqsEndpoint, ...localCredentials });
  const byEntry = new Map(WORKERS.map((worker) => [worker.entry, setup.entries[worker.name]!]));
  const pollers = workerPollers(setup.queues, { client, entryFile: (entry) => byEntry.get(entry)!, log });
  return {
    start: async () => pollers.forEach((poller) => poller.start()),
    stop: async () => {
      await Promise.all(pollers.map((poller) => poller.stop()));
      client.destroy();
    },
  };
}

/** Messages between the stack and its worker thread. */
export type ToWorkerThread = { type: 'stop' };
export type FromWorkerThread = { type: 'started' } | { type: 'stopped' } | { type: 'log'; line: string };

/**
 * The pollers and the worker handlers in a thread of their own, as Lambda runs each function in a
 * sandbox of its own: their own module instances (clients, caches) apart from the API handlers',
 * and the machine's second core. They get this thread's environment as it is when they start, as
 * a function gets its configuration when it is deployed. TypeScript entries load through tsx.
 * `onLost` hears of a thread that ends after it started (a crash), with the reason.
 */
export function threadWorkers(setup: WorkerSetup, log: (line: string) => void, onLost: (reason: string) => void): LocalWorkers {
  // A thread inherits this process's flags, tsx's loader among them when it runs under tsx; under
  // jest (no tsx) the TypeScript worker entries and this module's own thread file need it added.
  const execArgv = process.execArgv.some((arg) => arg.includes('tsx')) ? undefined : ['--import', 'tsx'];
  let worker: Worker | undefined;
  let stopped: Promise<number> | undefined;
  let running = false;
  let failure: Error | undefined;
  return {
    start: () =>
      new Promise<void>((resolve, reject) => {
        worker = new Worker(new URL('./worker-thread.ts', import.meta.url), {
          workerData: setup,
          // The environment as it is now, as a function's configuration is fixed when it is deployed.
          env: { ...process.env },
          execArgv,
        });
        stopped = new Promise((done) => worker!.once('exit', done));
        void stopped.then((code) => {
          // A thread that ends before it started its pollers (it failed to load) fails the start;
          // one that ends after takes the workers with it, as a crashed process would: reported.
          if (!running) return reject(failure ?? new Error('the workers’ thread ended before it started'));
          running = false;
          onLost(`the workers' thread ended (exit code ${code}${failure ? `: ${failure.stack ?? failure.message}` : ''})`);
        });
        worker.on('message', (message: FromWorkerThread) => {
          if (message.type === 'started') {
            running = true;
            resolve();
          } else if (message.type === 'log') log(message.line);
        });
        worker.on('error', (error) => (failure = error));
      }),
    stop: async () => {
      if (!worker) return;
      running = false;
      worker.postMessage({ type: 'stop' } satisfies ToWorkerThread);
      // Batches in flight are waited for, as in the thread; a thread that does not end by itself (a
      // socket kept alive) is ended once its pollers have stopped.
      const done = new Promise<void>((resolve) => worker!.on('message', (message: FromWorkerThread) => message.type === 'stopped' && resolve()));
      await Promise.race([done, stopped]);
      await worker.terminate();
      await stopped;
      worker = undefined;
    },
  };
}
