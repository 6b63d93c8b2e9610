import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Worker } from 'node:worker_threads';
import { createTableInput } from '../../shared/store/table.js';
import { localCredentials } from './aws.js';

export interface LocalDynamo {
  endpoint: string;
  /** Requests served so far, by operation (e.g. `GetItem`), counted as they arrive: for the benchmark's calls-per-ask figures. */
  requestCounts: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

/** The operations counted by name; any other is counted as `Other`. */
const OPERATIONS = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'TransactGetItems',
  'TransactWriteItems',
  'CreateTable',
  'DescribeTable',
  'UpdateTable',
  'DeleteTable',
  'ListTables',
  'UpdateTimeToLive',
  'DescribeTimeToLive',
] as const;

type ThreadMessage = { type: 'listening'; port: number } | { type: 'error'; message: string } | { type: 'closed' };

/**
 * Starts dynalite in a thread of its own (bin/local/dynalite-thread.mjs) and makes sure the table
 * exists, from the same definition the stack deploys. With `path` the data is kept on disk across
 * restarts; without, in memory only.
 */
export async function startLocalDynamo(options: {
  tableName: string;
  path?: string;
  /** Called if the thread ends while the store runs (not when it is closed), with the reason. */
  onLost?: (reason: string) => void;
}): Promise<LocalDynamo> {
  const counts = new SharedArrayBuffer((OPERATIONS.length + 1) * Int32Array.BYTES_PER_ELEMENT);
  const thread = new Worker(new URL('./dynalite-thread.mjs', import.meta.url), {
    workerData: { path: options.path, operations: OPERATIONS, counts },
    // Plain JavaScript: none of this process's loaders (tsx) or flags are needed there.
    execArgv: [],
  });
  let running = false;
  let failure: Error | undefined;
  thread.on('error', (error) => (failure = error));
  const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
  void exited.then((code) => {
    if (running) options.onLost?.(`the store's thread ended (exit code ${code}${failure ? `: ${failure.message}` : ''})`);
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      thread.on('message', (message: ThreadMessage) => {
        if (message.type === 'listening') resolve(message.port);
        else if (message.type === 'error') reject(new Error(`dynalite: ${message.message}`));
      });
      thread.once('error', reject);
      void exited.then(() => reject(new Error('dynalite: its thread ended before it listened')));
    });
    const endpoint = `http://127.0.0.1:${port}`;
    const client = new DynamoDBClient({ endpoint, ...localCredentials });
    try {
      await ensureTable(client, options.tableName);
    } finally {
      client.destroy();
    }
    running = true;
    return {
      endpoint,
      requestCounts: sharedCounts(new Int32Array(counts)),
      close: async () => {
        running = false;
        // dynalite closes its store once its server has closed; the thread is ended after that.
        const closed = new Promise<void>((resolve) => thread.on('message', (message: ThreadMessage) => message.type === 'closed' && resolve()));
        thread.postMessage({ type: 'close' });
        await Promise.race([closed, exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
        await thread.terminate();
      },
    };
  } catch (error) {
    // Nothing is left running when the start fails (a store that cannot be opened, a table not made).
    await thread.terminate();
    throw error;
  }
}

/** The thread's counts as a map of the operations seen so far, read live. */
function sharedCounts(slots: Int32Array): ReadonlyMap<string, number> {
  const names = [...OPERATIONS, 'Other'];
  const entries = () => names.map((name, index) => [name, Atomics.load(slots, index)] as [string, number]).filter(([, count]) => count > 0);
  const view: ReadonlyMap<string, number> = {
    get: (name) => new Map(entries()).get(name),
    has: (name) => new Map(entries()).has(name),
    get size() {
      return entries().length;
    },
    forEach: (callback, thisArg) => new Map(entries()).forEach((count, name, map) => callback.call(thisArg, count, name, map)),
    entries: () => entries()[Symbol.iterator](),
    keys: () => entries().map(([name]) => name)[Symbol.iterator](),
    values: () => entries().map(([, count]) => count)[Symbol.iterator](),
    [Symbol.iterator]: () => entries()[Symbol.iterator](),
  };
  return view;
}

/** Creates the table unless it is there already (a kept local store). */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  }
}
