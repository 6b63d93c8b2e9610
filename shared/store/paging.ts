import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { LIMITS } from '../platform/limits.js';
import type { Db } from './client.js';

export interface Page<T> {
  items: T[];
  has_more: boolean;
  /** The last item's id, to pass back as `after`; null on the last page. */
  next: string | null;
}

/**
 * Runs a query until it has `limit` items (or the byte budget of one answer is spent), following
 * DynamoDB's own pages, and tells whether more remain. One item more than asked is read to know that.
 */
export async function queryPage<T>(
  db: Db,
  input: Omit<QueryCommandInput, 'TableName' | 'Limit' | 'ExclusiveStartKey'>,
  options: {
    limit: number;
    exclusiveStartKey?: Record<string, unknown>;
    view: (item: Record<string, unknown>) => T;
    idOf: (item: T) => string;
    /** Leaves out items the query finds but no caller may see (past their retention). */
    keep?: (item: Record<string, unknown>) => boolean;
  },
): Promise<Page<T>> {
  const items: T[] = [];
  let bytes = 0;
  let startKey = options.exclusiveStartKey;
  let hasMore = false;
  do {
    const page = await db.doc.send(
      new QueryCommand({ ...input, TableName: db.table, ExclusiveStartKey: startKey, Limit: options.limit + 1 - items.length }),
    );
    for (const raw of page.Items ?? []) {
      if (options.keep && !options.keep(raw)) continue;
      if (items.length === options.limit) {
        hasMore = true;
        break;
      }
      const item = options.view(raw);
      bytes += Buffer.byteLength(JSON.stringify(item));
      if (bytes > LIMITS.maxListResponseBytes && items.length > 0) {
        hasMore = true;
        break;
      }
      items.push(item);
    }
    startKey = page.LastEvaluatedKey;
  } while (!hasMore && startKey && items.length <= options.limit);
  const last = items.at(-1);
  return { items, has_more: hasMore, next: hasMore && last ? options.idOf(last) : null };
}

/**
 * Every item a query finds, following DynamoDB's pages (for small, bounded reads: a month's day
 * items, a user's records).
 * @example const days = await queryAll(db, { KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk } });
 */
export async function queryAll(db: Db, input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await db.doc.send(new QueryCommand({ ...input, TableName: db.table, ExclusiveStartKey: startKey }));
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}
