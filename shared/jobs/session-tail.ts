import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { MessageItem } from '../messages/repository.js';
import type { SessionItem } from '../sessions/repository.js';
import type { Db } from '../store/client.js';
import { isExpired } from '../store/expiry.js';
import { keys, MESSAGE_SK_PREFIX, SESSION_SK } from '../store/keys.js';

/**
 * Items per read: the session, its waiting turns, the question and a history of up to
 * MAX_HISTORY_MESSAGES (llm/prompt.ts) usually come in the first one.
 */
const PAGE_ITEMS = 120;

/**
 * A session and its messages, newest first, read lazily by one strongly consistent Query per page:
 * the session's sort key (`SESSION`) sorts just after every message's (`MSG#<id>`) and before
 * nothing else of the partition, so a query down from it meets the session first, then its
 * newest messages. One read gives a job the session, its waiting turns and usually the question
 * and the history too (each a read of its own before).
 * @example const tail = sessionTail(db, orgId, sessionId); const session = await tail.session();
 */
export function sessionTail(db: Db, orgId: string, sessionId: string) {
  const messages: MessageItem[] = [];
  let session: SessionItem | undefined;
  let cursor: Record<string, unknown> | undefined;
  let started = false;
  let exhausted = false;

  const readPage = async (): Promise<void> => {
    const { Items = [], LastEvaluatedKey } = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :messages AND :session',
        ExpressionAttributeValues: { ':pk': keys.sessionPartition(orgId, sessionId), ':messages': MESSAGE_SK_PREFIX, ':session': SESSION_SK },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: PAGE_ITEMS,
        ExclusiveStartKey: cursor,
      }),
    );
    started = true;
    // Items past their organization's retention are as good as gone.
    for (const item of Items) {
      if (isExpired(item)) continue;
      if (item.sk === SESSION_SK) session = item as SessionItem;
      else messages.push(item as MessageItem);
    }
    cursor = LastEvaluatedKey;
    exhausted = !cursor;
  };

  return {
    /** The session item, or undefined when there is none. */
    async session(): Promise<SessionItem | undefined> {
      if (!started) await readPage();
      return session;
    },
    /** The session's messages, newest first; further pages are read only as the iteration reaches them. */
    async *newestFirst(): AsyncGenerator<MessageItem> {
      if (!started) await readPage();
      for (let index = 0; ; index++) {
        while (index >= messages.length && !exhausted) await readPage();
        if (index >= messages.length) return;
        yield messages[index]!;
      }
    },
  };
}

export type SessionTail = ReturnType<typeof sessionTail>;
