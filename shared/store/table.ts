import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The single table's shape: one source for the CDK stack (infra/) and the local stack (bin/local/).
 * docs/data-model.md explains the entities, keys and access patterns.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** GSI1: a user's sessions in an org, newest first. */
  byOwnerIndex: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  /** Epoch seconds; DynamoDB's TTL removes idempotency records and rate counters after it. */
  ttlAttribute: 'expires_at',
} as const;

/** The CreateTable request for the local stack and the tests; mirrors infra/chat-table.ts. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const { partitionKey, sortKey, byOwnerIndex } = TABLE;
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [partitionKey, sortKey, byOwnerIndex.partitionKey, byOwnerIndex.sortKey].map((name) => ({
      AttributeName: name,
      AttributeType: 'S',
    })),
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: byOwnerIndex.name,
        KeySchema: [
          { AttributeName: byOwnerIndex.partitionKey, KeyType: 'HASH' },
          { AttributeName: byOwnerIndex.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      },
    ],
  };
}
