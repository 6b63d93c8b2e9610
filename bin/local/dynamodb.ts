import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { createTableInput } from '../../shared/store/table.js';
import { countRequests, localCredentials } from './aws.js';

export interface LocalDynamo {
  endpoint: string;
  /** Requests served so far, by operation (e.g. `GetItem`): for the benchmark's calls-per-ask figures. */
  requestCounts: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Starts dynalite in this process and makes sure the table exists, from the same definition the
 * stack deploys. With `path` the data is kept on disk across restarts; without, in memory only.
 */
export async function startLocalDynamo(options: { tableName: string; path?: string }): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: options.path });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const requestCounts = countRequests(server);
  await ensureTable(new DynamoDBClient({ endpoint, ...localCredentials }), options.tableName);
  return {
    endpoint,
    requestCounts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
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
