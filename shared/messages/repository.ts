import { BatchGetCommand, DeleteCommand, GetCommand, PutCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { failUnfinished, withdrawUnclaimed, type WorkItemFields } from '../jobs/claims.js';
import { cancelWork, type CancelOutcome } from '../jobs/cancel.js';
import { readProgress } from '../jobs/progress.js';
import { ANSWER, MESSAGE_LIFECYCLE, type WorkItemState } from '../jobs/work-items.js';
import type { ChatMessage } from '../llm/prompt.js';
import { batchWrite, deleteRequest, putRequest } from '../store/batch.js';
import type { Db } from '../store/client.js';
import { isExpired, unexpired } from '../store/expiry.js';
import { keys, MESSAGE_SK_PREFIX } from '../store/keys.js';
import { queryPage, type Page } from '../store/paging.js';
import type { History, Message, MessageStatus } from './schema.js';

/** A message as stored: the API's fields, its keys and owner, and for an answer the request and the worker's state. */
export interface MessageItem extends Omit<Message, 'status'>, WorkItemState {
  pk: string;
  sk: string;
  entity: 'message';
  status: MessageStatus;
  /** The session's owner, so that a poll is one read (items stored before it have none). */
  user_id?: string;
  /** An answer's question. */
  reply_to?: string;
  /** The ask's own history and model, when it gave them. */
  request_history?: History;
  request_model?: string;
  /** Written with POST .../messages rather than asked. */
  manual?: boolean;
  timings?: { queue_ms: number; model_ms: number };
  /** When its organization keeps data for a time: its creation and that time (epoch seconds, the table's TTL). */
  expires_at?: number;
}

/** A message to store: the repository adds its keys. */
export type NewMessage = Omit<MessageItem, 'pk' | 'sk' | 'entity'>;

/** The message items' data access; the rules are in ./service.ts. */
export interface MessageRepository {
  get(orgId: string, sessionId: string, messageId: string): Promise<MessageItem | undefined>;
  /** Several messages of an org at once (BatchGetItem, 100 a request); those not found are left out. */
  getMany(orgId: string, ids: Array<{ sessionId: string; messageId: string }>): Promise<MessageItem[]>;
  /** Stores a message of an org's session and returns it as stored. */
  put(orgId: string, message: NewMessage): Promise<MessageItem>;
  /** Stores several messages at once (a question and its waiting answer). */
  putAll(orgId: string, messages: NewMessage[]): Promise<void>;
  /** Deletes messages; those already gone are no error. */
  deleteAll(orgId: string, sessionId: string, messageIds: string[]): Promise<void>;
  /** Deletes one message and returns it, or undefined when there was none. */
  delete(orgId: string, sessionId: string, messageId: string): Promise<MessageItem | undefined>;
  /** A page of a session's messages in id order; `after` is the last id of the page before. */
  page(orgId: string, sessionId: string, page: { limit: number; order: 'asc' | 'desc'; after?: string }): Promise<Page<MessageItem>>;
  /** The session's newest message. */
  last(orgId: string, sessionId: string): Promise<MessageItem | undefined>;
  /**
   * The session's finished turns before the item `beforeId` (a message or a task), newest first,
   * read page by page until `enough` says the turns read so far suffice.
   */
  finishedTurnsBefore(orgId: string, sessionId: string, beforeId: string, enough: (newestFirst: ChatMessage[]) => boolean): Promise<ChatMessage[]>;
  /** Fails a message that has not finished; undefined when it had (or is gone). */
  failUnfinished(item: MessageItem, fields: WorkItemFields): Promise<MessageItem | undefined>;
  /** Removes a waiting answer no worker has claimed; false when one had (see `withdrawUnclaimed`). */
  withdrawUnclaimed(orgId: string, sessionId: string, messageId: string): Promise<boolean>;
  /** Cancels an answer (see `cancelWork`). */
  cancel(orgId: string, sessionId: string, messageId: string): Promise<CancelOutcome>;
  /** The text generated so far of an answer being generated (jobs/progress.ts); undefined before any. */
  textSoFar(orgId: string, sessionId: string, messageId: string): Promise<string | undefined>;
}

const copyPresent = (from: object, to: Record<string, unknown>, fields: readonly string[]): void => {
  for (const field of fields) {
    const value = (from as Record<string, unknown>)[field];
    if (value !== undefined && value !== null) to[field] = value;
  }
};

/** A stored message as the API shows it; the rest (lease, request) is the worker's. */
export function toMessage(item: MessageItem): Message {
  const message: Message = {
    message_id: item.message_id,
    session_id: item.session_id,
    role: item.role,
    content: item.content ?? '',
    status: item.status,
    created_at: item.created_at,
  };
  copyPresent(item, message, ['model', 'completed_at', 'error', 'usage', 'latency_ms', 'timings']);
  return message;
}

/** A message with its keys, as it is stored. */
export const toMessageItem = (orgId: string, message: NewMessage): MessageItem => ({
  ...keys.message(orgId, message.session_id, message.message_id),
  entity: 'message',
  ...message,
});

/** The message repository on the single table. */
export function dynamoMessageRepository(db: Db): MessageRepository {
  const partition = (orgId: string, sessionId: string) => ({ ':pk': keys.sessionPartition(orgId, sessionId), ':msg': MESSAGE_SK_PREFIX });
  return {
    async get(orgId, sessionId, messageId) {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.message(orgId, sessionId, messageId), ConsistentRead: true }));
      return unexpired(Item as MessageItem | undefined);
    },

    async getMany(orgId, ids) {
      const found: MessageItem[] = [];
      for (let start = 0; start < ids.length; start += 100) {
        let pending: Record<string, unknown>[] = ids.slice(start, start + 100).map(({ sessionId, messageId }) => keys.message(orgId, sessionId, messageId));
        for (let attempt = 1; pending.length; attempt++) {
          const { Responses, UnprocessedKeys } = await db.doc.send(
            new BatchGetCommand({ RequestItems: { [db.table]: { Keys: pending, ConsistentRead: true } } }),
          );
          found.push(...((Responses?.[db.table] ?? []) as MessageItem[]).filter((item) => !isExpired(item)));
          pending = (UnprocessedKeys?.[db.table]?.Keys ?? []) as Record<string, unknown>[];
          if (pending.length && attempt >= 8) throw new Error('DynamoDB kept back part of a batch read; try again.');
          if (pending.length) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 25 * 2 ** attempt)));
        }
      }
      return found;
    },

    async put(orgId, message) {
      const item = toMessageItem(orgId, message);
      await db.doc.send(new PutCommand({ TableName: db.table, Item: item }));
      return item;
    },

    async putAll(orgId, messages) {
      await batchWrite(db, messages.map((message) => putRequest({ ...toMessageItem(orgId, message) })));
    },

    async deleteAll(orgId, sessionId, messageIds) {
      await batchWrite(db, messageIds.map((id) => deleteRequest(keys.message(orgId, sessionId, id))));
    },

    async delete(orgId, sessionId, messageId) {
      const { Attributes } = await db.doc.send(
        new DeleteCommand({ TableName: db.table, Key: keys.message(orgId, sessionId, messageId), ReturnValues: 'ALL_OLD' }),
      );
      // One past its retention was as good as gone already: not found.
      return unexpired(Attributes as MessageItem | undefined);
    },

    async page(orgId, sessionId, { limit, order, after }) {
      return queryPage(
        db,
        {
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
          ExpressionAttributeValues: partition(orgId, sessionId),
          ScanIndexForward: order === 'asc',
          ConsistentRead: true,
        },
        {
          limit,
          exclusiveStartKey: after ? keys.message(orgId, sessionId, after) : undefined,
          view: (item) => item as unknown as MessageItem,
          idOf: (item) => item.message_id,
          keep: (item) => !isExpired(item),
        },
      );
    },

    async last(orgId, sessionId) {
      const { Items } = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
          ExpressionAttributeValues: partition(orgId, sessionId),
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      return unexpired(Items?.[0] as MessageItem | undefined);
    },

    async finishedTurnsBefore(orgId, sessionId, beforeId, enough) {
      const newestFirst: ChatMessage[] = [];
      let startKey: Record<string, unknown> | undefined = keys.message(orgId, sessionId, beforeId);
      do {
        const page: QueryCommandOutput = await db.doc.send(
          new QueryCommand({
            TableName: db.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
            FilterExpression: '#status = :completed',
            ProjectionExpression: '#role, content, expires_at',
            ExpressionAttributeNames: { '#role': 'role', '#status': 'status' },
            ExpressionAttributeValues: { ...partition(orgId, sessionId), ':completed': MESSAGE_LIFECYCLE.done },
            ExclusiveStartKey: startKey,
            ScanIndexForward: false,
            ConsistentRead: true,
          }),
        );
        for (const item of page.Items ?? []) if (!isExpired(item)) newestFirst.push({ role: item.role as ChatMessage['role'], content: String(item.content ?? '') });
        startKey = page.LastEvaluatedKey;
      } while (startKey && !enough(newestFirst));
      return newestFirst;
    },

    async failUnfinished(item, fields) {
      return (await failUnfinished(db, { pk: item.pk, sk: item.sk }, MESSAGE_LIFECYCLE, fields)) as MessageItem | undefined;
    },

    withdrawUnclaimed: (orgId, sessionId, messageId) => withdrawUnclaimed(db, keys.message(orgId, sessionId, messageId), MESSAGE_LIFECYCLE),

    cancel: (orgId, sessionId, messageId) => cancelWork(db, ANSWER, keys.message(orgId, sessionId, messageId), { orgId, sessionId, itemId: messageId }),

    textSoFar: async (orgId, sessionId, messageId) => (await readProgress(db, { orgId, sessionId, itemId: messageId }))?.text,
  };
}
