/**
 * The worker thread of the local stack (bin/local/local-workers.ts threadWorkers): the queue pollers and
 * the worker handlers they load, until the stack asks it to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { inProcessWorkers, type FromWorkerThread, type ToWorkerThread, type WorkerSetup } from './local-workers.js';

const send = (message: FromWorkerThread) => parentPort!.postMessage(message);
const workers = inProcessWorkers(workerData as WorkerSetup, (line) => send({ type: 'log', line }));
await workers.start();
parentPort!.on('message', (message: ToWorkerThread) => {
  if (message.type !== 'stop') return;
  void workers.stop().then(() => send({ type: 'stopped' }));
});
send({ type: 'started' });
