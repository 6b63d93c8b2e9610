import { DeleteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure, type Db } from '../store/client.js';
import type { Lifecycle, WorkItemState } from './work-items.js';

/**
 * The work items' repository: claims and leases of answer messages and tasks in the single table,
 * who answers an item (one worker at a time), and how its outcome is written. The jobs use it; the
 * message and task repositories use `failUnfinished` for the deadline on read.
 */

type Key = { pk: string; sk: string };
/** A stored work item: its state and whatever else the message or task holds. */
export type ClaimedItem = WorkItemState & { pk: string; sk: string } & Record<string, unknown>;
/** Attributes written with an outcome. */
export type WorkItemFields = Record<string, unknown>;
type Item = WorkItemFields;


/** An update that sets the status and `fields`, and drops the claim: names and values for its expression. */
function finalUpdate(status: string, fields: Item) {
  const names: Record<string, string> = { '#status': 'status' };
  const values: Item = { ':status': status };
  const sets = ['#status = :status'];
  Object.entries(fields).forEach(([name, value], index) => {
    names[`#f${index}`] = name;
    values[`:f${index}`] = value;
    sets.push(`#f${index} = :f${index}`);
  });
  return { UpdateExpression: `SET ${sets.join(', ')} REMOVE lease_until, claimed_by`, names, values };
}

/**
 * Claims an item for one worker: `pending → processing` with a lease, or takes over a processing
 * item whose lease has run out (its worker died). Only one claimer can win, so a job delivered
 * twice, even at once, is answered once.
 * @returns the claimed item (its `attempts` counts this claim), or undefined when it is not claimable.
 */
export async function claim<Item extends WorkItemState = ClaimedItem>(
  db: Db,
  key: Key,
  states: Lifecycle,
  claimer: string,
  leaseMs: number,
  nowMs = Date.now(),
): Promise<Item | undefined> {
  try {
    const { Attributes } = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression: 'SET #status = :processing, lease_until = :lease, claimed_by = :claimer, started_at = if_not_exists(started_at, :now) ADD attempts :one',
        ConditionExpression: 'attribute_exists(pk) AND (#status = :pending OR (#status = :processing AND lease_until < :nowMs))',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':processing': states.processing,
          ':pending': states.pending,
          ':lease': nowMs + leaseMs,
          ':claimer': claimer,
          ':now': new Date(nowMs).toISOString(),
          ':nowMs': nowMs,
          ':one': 1,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes as Item;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/**
 * Writes a claimed item's outcome, if this claimer still holds it (a worker whose lease was taken
 * over must not overwrite the new holder's work). `fields` are set; `status` becomes `status`.
 * @returns the item as written, or undefined when the claim was lost.
 */
export async function settle(db: Db, key: Key, states: Lifecycle, claimer: string, status: string, fields: Item): Promise<ClaimedItem | undefined> {
  const { UpdateExpression, names, values } = finalUpdate(status, fields);
  try {
    const { Attributes } = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression,
        ConditionExpression: '#status = :processing AND claimed_by = :claimer',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ':processing': states.processing, ':claimer': claimer },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes as ClaimedItem;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}

/**
 * Fails an item that has not finished, whoever holds it: for the dead-letter consumer and for the
 * deadline on read. `fields` are set with the failed status.
 * @returns the failed item, or undefined when it had finished (or is gone) meanwhile.
 */
export function failUnfinished(db: Db, key: Key, states: Lifecycle, fields: Item): Promise<ClaimedItem | undefined> {
  return settleFrom(db, key, [states.pending, states.processing], states.failed, fields);
}

/**
 * Puts a claimed item back to pending after a passing failure, for the next try.
 * @returns false when this claimer no longer held it (taken over, or the item is gone).
 */
export async function release(db: Db, key: Key, states: Lifecycle, claimer: string, lastError: string): Promise<boolean> {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression: 'SET #status = :pending, last_error = :error REMOVE lease_until, claimed_by',
        ConditionExpression: '#status = :processing AND claimed_by = :claimer',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': states.pending, ':processing': states.processing, ':claimer': claimer, ':error': lastError },
      }),
    );
    return true;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return false;
  }
}

/**
 * Removes an item no worker has ever claimed. When a job's send fails, the send may still have
 * reached the queue (its answer was lost): an item still unclaimed can be withdrawn, and its job,
 * if any, then finds nothing to do; one already claimed proves the job was queued.
 * @returns true when it was withdrawn; false when a worker had claimed it (or it is gone).
 */
export async function withdrawUnclaimed(db: Db, key: Key, states: Lifecycle): Promise<boolean> {
  try {
    await db.doc.send(
      new DeleteCommand({
        TableName: db.table,
        Key: key,
        ConditionExpression: '#status = :pending AND attribute_not_exists(attempts)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': states.pending },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Ends an item in `status` with `fields` if it is still in one of the states `from`, whoever holds
 * it: a cancel of a waiting or a running item, a failure of an unfinished one.
 * @returns the item as written, or undefined when it was in none of them (or is gone).
 */
export async function settleFrom(db: Db, key: Key, from: readonly string[], status: string, fields: Item): Promise<ClaimedItem | undefined> {
  const { UpdateExpression, names, values } = finalUpdate(status, fields);
  const states = Object.fromEntries(from.map((state, index) => [`:from${index}`, state]));
  try {
    const { Attributes } = await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression,
        ConditionExpression: `attribute_exists(pk) AND #status IN (${Object.keys(states).join(', ')})`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ...values, ...states },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes as ClaimedItem | undefined;
  } catch (error) {
    if (isConditionFailure(error)) return undefined;
    throw error;
  }
}
