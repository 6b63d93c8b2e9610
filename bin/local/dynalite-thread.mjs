/**
 * dynalite in a thread of its own (bin/local/dynamodb.ts startLocalDynamo): the store's work (its
 * HTTP server, expression parsing, the level store) is a fifth of the local stack's CPU, and here it
 * runs on the machine's other core instead of the API's. Plain JavaScript, so that it loads the same
 * under tsx, jest and plain Node. Each request is counted by its operation into the shared
 * `counts` array (one slot per name of `operations`, then one for any other), read by the stack.
 */
import dynalite from 'dynalite';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ path?: string, operations: string[], counts: SharedArrayBuffer }} */
const { path, operations, counts } = workerData;
const slots = new Int32Array(counts);
const slotOf = new Map(operations.map((operation, index) => [operation, index]));

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path });
server.on('request', (request) => {
  const operation = String(request.headers['x-amz-target'] ?? 'unknown').split('.').pop();
  Atomics.add(slots, slotOf.get(operation) ?? operations.length, 1);
});
server.once('error', (error) => parentPort.postMessage({ type: 'error', message: error.message }));
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));
parentPort.on('message', (message) => {
  if (message.type === 'close') server.close(() => parentPort.postMessage({ type: 'closed' }));
});
