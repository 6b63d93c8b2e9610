import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { AppError } from '../platform/errors.js';
import type { Db } from '../store/client.js';
import { settleFrom, type ClaimedItem } from './claims.js';
import { markCancelled, readProgress, type LiveRef } from './progress.js';
import { isFinished, type WorkKind } from './work-items.js';

/** What became of a cancel: the item cancelled now or before, finished otherwise, or gone. */
export type CancelOutcome =
  /** `now`: this cancel settled it (and not an earlier one). */
  | { outcome: 'cancelled'; item: ClaimedItem; now?: true }
  | { outcome: 'finished'; item: ClaimedItem }
  | { outcome: 'gone' };

/**
 * Cancels a work item. A waiting one is cancelled at once, with the text an earlier try committed
 * (its job, when it comes, finds nothing to do). A running one is marked cancelled in its progress first, so that its worker commits no more
 * text and stops the model at its next progress write or check (within a second); then the item
 * is cancelled with the text committed until then. An item that finished meanwhile stays as it
 * finished. Cancelling a cancelled item answers it again.
 */
export async function cancelWork(db: Db, kind: WorkKind, key: { pk: string; sk: string }, ref: LiveRef): Promise<CancelOutcome> {
  const states = kind.lifecycle;
  const fields = (textSoFar: string) => ({ ...kind.cancelledFields(textSoFar), completed_at: new Date().toISOString() });
  for (let round = 0; round < 3; round++) {
    // A waiting item may have been tried before (and released): it keeps what that try committed,
    // as the worker keeps it when it finds the cancel (and as a stream of it showed).
    const committed = (await readProgress(db, ref))?.text ?? '';
    const waiting = await settleFrom(db, key, [states.pending], states.cancelled, fields(committed));
    if (waiting) return { outcome: 'cancelled', item: waiting, now: true };
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }));
    const item = Item as ClaimedItem | undefined;
    if (!item) return { outcome: 'gone' };
    if (item.status === states.cancelled) return { outcome: 'cancelled', item };
    if (isFinished(item.status, states)) return { outcome: 'finished', item };
    if (item.status !== states.processing) continue;
    await markCancelled(db, ref, new Date().toISOString());
    const textSoFar = (await readProgress(db, ref))?.text ?? '';
    const running = await settleFrom(db, key, [states.processing], states.cancelled, fields(textSoFar));
    if (running) return { outcome: 'cancelled', item: running, now: true };
  }
  // Released and claimed again three times over while this ran: the caller may simply try again.
  throw new AppError('unavailable', 'cancel_raced', 'The answer changed state while it was being cancelled. Cancel it again.', { retryAfterSeconds: 1 });
}
