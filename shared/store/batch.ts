import { BatchWriteCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { Db } from './client.js';

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } };

/**
 * BatchWriteItem in chunks of 25, retrying what DynamoDB hands back unprocessed with a short backoff.
 */
export async function batchWrite(db: Db, requests: WriteRequest[]): Promise<void> {
  for (let start = 0; start < requests.length; start += 25) {
    let pending = requests.slice(start, start + 25);
    for (let attempt = 1; pending.length > 0; attempt++) {
      const { UnprocessedItems } = await db.doc.send(new BatchWriteCommand({ RequestItems: { [db.table]: pending } }));
      pending = (UnprocessedItems?.[db.table] ?? []) as WriteRequest[];
      if (!pending.length) break;
      if (attempt >= 8) throw new Error('DynamoDB kept back part of a batch write; try again.');
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
    }
  }
}

export const putRequest = (Item: Record<string, unknown>): WriteRequest => ({ PutRequest: { Item } });
export const deleteRequest = (Key: Record<string, unknown>): WriteRequest => ({ DeleteRequest: { Key } });

/**
 * Deletes what a query finds (it need project only `pk, sk`), a page at a time, leaving the items
 * `keep` names; returns how many went.
 * @example await deleteQueried(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ProjectionExpression: 'pk, sk' });
 */
export async function deleteQueried(
  db: Db,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  keep: (item: Record<string, unknown>) => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(new QueryCommand({ ...input, TableName: db.table, ExclusiveStartKey: startKey }));
    const doomed = (page.Items ?? []).filter((item) => !keep(item));
    await batchWrite(db, doomed.map((item) => deleteRequest({ pk: item.pk, sk: item.sk })));
    deleted += doomed.length;
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return deleted;
}
