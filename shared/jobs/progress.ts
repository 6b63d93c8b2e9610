import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { deleteQueried } from '../store/batch.js';
import { isConditionFailure, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { TABLE } from '../store/table.js';

/**
 * The text of an answer (or a task) while it is generated, kept apart from its item: that item can
 * carry the request's whole history, and DynamoDB bills an update by the size of the whole item.
 * A head item (`LIVE#<id>`: who writes, how many parts, how many characters) and one small part
 * item per progress write (`LIVE#<id>#<seq>`), so that every progress write costs the same two
 * small writes whatever the size of the answer, the session or the request. The finished text is
 * written once into the item itself, which then reads in one GetItem as before. Parts and head
 * expire after a day (TTL) and go with their session's delete.
 */

/** How long progress items are kept after their last write. */
const LIVE_TTL_SECONDS = 24 * 60 * 60;

export interface LiveProgress {
  /** The text generated so far (every committed part, in order). */
  text: string;
  /** Parts committed so far (of the claim writing now). */
  seq: number;
  /** When a cancel was asked for, if it was. */
  cancelledAt?: string;
}

/** Where one item's progress lives. */
export interface LiveRef {
  orgId: string;
  sessionId: string;
  /** The message id of an answer, or the ctx id of a task. */
  itemId: string;
}

const expiresAt = () => Math.floor(Date.now() / 1000) + LIVE_TTL_SECONDS;

/**
 * The writer's side of one item's progress, for one claim. `append` stores a part and commits it in
 * the head if this claimer still holds it and no cancel was asked for; the first one takes the head
 * for this claimer (a takeover takes it from a dead worker, whose later writes then fail). Parts are
 * keyed by the claim's `generation` (its try number), so a worker that lost its claim can never
 * overwrite a part its successor committed.
 */
export function liveWriter(db: Db, ref: LiveRef, claimer: string, generation: number) {
  const head = keys.liveHead(ref.orgId, ref.sessionId, ref.itemId);
  let seq = 0;
  let chars = 0;
  return {
    /**
     * Stores a part and commits it in the head if this try still holds the item and no cancel was
     * asked for. The first write takes the head for this try (an answer whose text comes in one
     * piece writes no progress at all): from a try before it, never from a later one (a try that
     * stalled past its lease and writes late must not stop the try that took over).
     * @returns false when the claim was lost or a cancel was asked for: stop generating.
     */
    async append(text: string): Promise<boolean> {
      const next = seq + 1;
      const partKey = keys.livePart(ref.orgId, ref.sessionId, ref.itemId, generation, next);
      await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...partKey, text, offset: chars, [TABLE.ttlAttribute]: expiresAt() } }));
      try {
        await db.doc.send(
          seq === 0
            ? new UpdateCommand({
                TableName: db.table,
                Key: head,
                UpdateExpression: 'SET claimer = :claimer, generation = :generation, seq = :seq, chars = :chars, #ttl = :ttl',
                ConditionExpression: 'attribute_not_exists(cancelled_at) AND (attribute_not_exists(generation) OR generation < :generation)',
                ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
                ExpressionAttributeValues: { ':claimer': claimer, ':generation': generation, ':seq': next, ':chars': text.length, ':ttl': expiresAt() },
              })
            : new UpdateCommand({
                TableName: db.table,
                Key: head,
                UpdateExpression: 'SET seq = :seq, chars = :chars',
                ConditionExpression: 'claimer = :claimer AND attribute_not_exists(cancelled_at)',
                ExpressionAttributeValues: { ':seq': next, ':chars': chars + text.length, ':claimer': claimer },
              }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Not committed (cancelled, taken over, or its session deleted under it): the part goes too.
        await db.doc.send(new DeleteCommand({ TableName: db.table, Key: partKey }));
        return false;
      }
      seq = next;
      chars += text.length;
      return true;
    },

    /**
     * @returns false when a cancel was asked for or a later try holds the item (one small read);
     * true too before this try has written anything.
     */
    async stillHeld(): Promise<boolean> {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: head, ConsistentRead: true }));
      if (!Item) return true;
      if (Item.cancelled_at !== undefined) return false;
      const holder = Number(Item.generation ?? 0);
      return holder < generation || (holder === generation && Item.claimer === claimer);
    },
  };
}

/**
 * Marks a cancel on an item's progress (creating the head if no worker has yet): from then on no
 * part is committed, and a worker that has not started does not.
 */
export async function markCancelled(db: Db, ref: LiveRef, at: string): Promise<void> {
  await db.doc.send(
    new UpdateCommand({
      TableName: db.table,
      Key: keys.liveHead(ref.orgId, ref.sessionId, ref.itemId),
      UpdateExpression: 'SET cancelled_at = if_not_exists(cancelled_at, :at), #ttl = :ttl',
      ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
      ExpressionAttributeValues: { ':at': at, ':ttl': expiresAt() },
    }),
  );
}

/**
 * The committed text of an item's progress, from part `afterSeq` on (all of it by default);
 * undefined when nothing was written. One GetItem of the head and, when parts were committed, one
 * Query of them (a page holds 1 MB of parts).
 */
export async function readProgress(db: Db, ref: LiveRef, afterSeq = 0): Promise<LiveProgress | undefined> {
  const head = keys.liveHead(ref.orgId, ref.sessionId, ref.itemId);
  const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: head, ConsistentRead: true }));
  if (!Item) return undefined;
  const seq = Number(Item.seq ?? 0);
  const generation = Number(Item.generation ?? 0);
  const texts: string[] = [];
  let start: Record<string, unknown> | undefined;
  if (seq > afterSeq) {
    do {
      const page = await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': head.pk,
            ':from': keys.livePart(ref.orgId, ref.sessionId, ref.itemId, generation, afterSeq + 1).sk,
            ':to': keys.livePart(ref.orgId, ref.sessionId, ref.itemId, generation, seq).sk,
          },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) texts.push(String(item.text));
      start = page.LastEvaluatedKey;
    } while (start);
  }
  return { text: texts.join(''), seq, ...(Item.cancelled_at ? { cancelledAt: String(Item.cancelled_at) } : {}) };
}

/**
 * Deletes every progress item of a work item (its head and its parts, of every try), for a worker
 * that found its item gone when it settled it (its session deleted or erased under it): the writes
 * of progress do not know of the item, so they may have come after the session's sweep.
 */
export function discardProgress(db: Db, key: { pk: string; sk: string }): Promise<number> {
  const itemId = key.sk.slice(key.sk.indexOf('#') + 1);
  return deleteQueried(db, {
    KeyConditionExpression: 'pk = :pk AND begins_with(sk, :live)',
    ExpressionAttributeValues: { ':pk': key.pk, ':live': keys.liveHead('', '', itemId).sk },
    ProjectionExpression: 'pk, sk',
    ConsistentRead: true,
  });
}
