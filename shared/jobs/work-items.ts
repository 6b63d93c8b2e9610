/**
 * What a worker answers, without the storage: the two kinds of work item (an ask's answer message
 * and a task), their states, and the sentences and fields of their outcomes, each written once.
 */

/**
 * The states of a work item: a message (`PENDING → PROCESSING → COMPLETED | FAILED | CANCELLED`) or
 * a task (`pending → processing → done | error | cancelled`, lower case as the guide's clients expect).
 */
export interface Lifecycle {
  pending: string;
  processing: string;
  done: string;
  failed: string;
  cancelled: string;
}

export const MESSAGE_LIFECYCLE = {
  pending: 'PENDING',
  processing: 'PROCESSING',
  done: 'COMPLETED',
  failed: 'FAILED',
  cancelled: 'CANCELLED',
} as const satisfies Lifecycle;
export const TASK_LIFECYCLE = { pending: 'pending', processing: 'processing', done: 'done', failed: 'error', cancelled: 'cancelled' } as const satisfies Lifecycle;

/** The `error` of a cancelled item. */
export const CANCELLED_SENTENCE = 'Cancelled by the user.';

/** The attributes a worker keeps on an item it answers (claims.ts writes them). */
export interface WorkItemState {
  status: string;
  created_at: string;
  /** Who holds the claim (one delivery of a job) and until when (epoch ms). */
  claimed_by?: string;
  lease_until?: number;
  /** Claims so far, this one included. */
  attempts?: number;
  /** When the first claim was taken. */
  started_at?: string;
  /** The passing failure of the last try, for the final sentence. */
  last_error?: string;
}

/** One kind of work item: how it is named in metrics, its states, and what its failure stores. */
export interface WorkKind {
  /** Metric prefix: `AnswerCompleted`, `TaskFailed`, ... */
  metric: 'Answer' | 'Task';
  lifecycle: Lifecycle;
  /** The fields of a failed item: what the API then shows. */
  failedFields(sentence: string): Record<string, unknown>;
  /** The fields of a cancelled item, with the text generated before the cancel. */
  cancelledFields(textSoFar: string): Record<string, unknown>;
}

export const ANSWER: WorkKind = {
  metric: 'Answer',
  lifecycle: MESSAGE_LIFECYCLE,
  failedFields: (sentence) => ({ content: sentence, error: sentence }),
  cancelledFields: (textSoFar) => ({ content: textSoFar, error: CANCELLED_SENTENCE }),
};

export const TASK: WorkKind = {
  metric: 'Task',
  lifecycle: TASK_LIFECYCLE,
  failedFields: (sentence) => ({ error: sentence, result: null }),
  cancelledFields: (textSoFar) => ({ error: CANCELLED_SENTENCE, result: textSoFar }),
};

export const isFinished = (status: unknown, states: Lifecycle): boolean =>
  status === states.done || status === states.failed || status === states.cancelled;

/** Waiting for an answer: not yet claimed, or claimed and being answered. */
export const isWaiting = (status: unknown, states: Lifecycle): boolean => status === states.pending || status === states.processing;

/** Seconds until another worker's claim would run out (at least 1, at most a minute): when to come back. */
export function secondsUntilLeaseEnds(leaseUntil: number | undefined, nowMs = Date.now()): number {
  const seconds = Math.ceil((Number(leaseUntil) - nowMs) / 1000) + 1;
  return Number.isFinite(seconds) ? Math.min(60, Math.max(1, seconds)) : 1;
}

/** The final sentence of a job that was tried `tries` times without success. */
export function gaveUpSentence(tries: number | 'several', lastError: string | undefined): string {
  const last = lastError ? ` (last problem: ${lastError.replace(/\.$/, '')})` : '';
  return `This request could not be answered after ${tries} tries${last}. Send it again.`;
}

/** The sentence of an item given up at the deadline. */
export const overdueSentence = (deadlineMinutes: number): string =>
  `No answer came within ${deadlineMinutes} minutes, so this request was given up. Send it again.`;

/**
 * An item as it is read: failed first, with a sentence that says to send it again, when it is still
 * unfinished past the deadline (the last guarantee that nothing waits forever). `fail` writes the
 * fields unless the item finished meanwhile.
 */
export async function failIfOverdue<Item extends WorkItemState>(
  item: Item,
  kind: WorkKind,
  deadlineMinutes: number,
  fail: (fields: Record<string, unknown>) => Promise<Item | undefined>,
  nowMs = Date.now(),
): Promise<Item> {
  if (!isOverdue(item, kind.lifecycle, deadlineMinutes, nowMs)) return item;
  return (await fail({ ...kind.failedFields(overdueSentence(deadlineMinutes)), completed_at: new Date(nowMs).toISOString() })) ?? item;
}

/** True when an unfinished item is older than the deadline. */
export function isOverdue(item: WorkItemState, states: Lifecycle, deadlineMinutes: number, nowMs = Date.now()): boolean {
  if (isFinished(item.status, states)) return false;
  return nowMs - Date.parse(item.created_at) > deadlineMinutes * 60_000;
}
