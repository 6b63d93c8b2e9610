import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { env } from '../platform/env.js';
import { traced } from '../platform/tracing.js';

/** A conditional write whose condition did not hold (not a fault: the item was not as required). */
export const isConditionFailure = (error: unknown): boolean => (error as Error | undefined)?.name === 'ConditionalCheckFailedException';

/** A handle on the single table: the document client and the table's name. Repositories take one. */
export interface Db {
  readonly doc: DynamoDBDocumentClient;
  readonly table: string;
}

/** A {@link Db} over a DynamoDB client (the tests point one at dynalite or DynamoDB Local). */
export function createDb(client: DynamoDBClient, table: string): Db {
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
  });
  return { doc, table };
}

let fromEnvironment: Db | undefined;

/**
 * The table this process works on: `TABLE_NAME`, reached at the SDK's usual endpoint
 * (`AWS_ENDPOINT_URL_DYNAMODB` points it at the local store). Made once per process, on first use,
 * so that a warm Lambda keeps its connections.
 */
export function defaultDb(): Db {
  fromEnvironment ??= createDb(traced(new DynamoDBClient({})), env.tableName());
  return fromEnvironment;
}
