/**
 * Key builders for the single table. Every key starts with the tenant (`ORG#<orgId>`), so a key
 * built from a verified token can only ever reach that tenant's items.
 */
const idempotencyPartition = (orgId: string, userId: string): string => `ORG#${orgId}#USER#${userId}#IDEMPOTENCY`;
const sessionPk = (orgId: string, sessionId: string): string => `ORG#${orgId}#SESSION#${sessionId}`;

export const SESSION_SK = 'SESSION';
export const MESSAGE_SK_PREFIX = 'MSG#';
export const TASK_SK_PREFIX = 'CTX#';
/** Progress items; not under MSG# or CTX#, so that listing messages or tasks never meets them. */
export const LIVE_SK_PREFIX = 'LIVE#';
const SESSION_OWNER_SK_PREFIX = 'SESSION#';

export const keys = {
  session: (orgId: string, sessionId: string) => ({ pk: sessionPk(orgId, sessionId), sk: SESSION_SK }),
  /** GSI1 keys of a session: its owner's list, sorted by the (time-ordered) session id. */
  sessionOwner: (orgId: string, userId: string, sessionId: string) => ({
    gsi1pk: `ORG#${orgId}#USER#${userId}`,
    gsi1sk: `${SESSION_OWNER_SK_PREFIX}${sessionId}`,
  }),
  /** All items of one session (the session, its messages and tasks) share one partition. */
  sessionPartition: sessionPk,
  message: (orgId: string, sessionId: string, messageId: string) => ({
    pk: sessionPk(orgId, sessionId),
    sk: `${MESSAGE_SK_PREFIX}${messageId}`,
  }),
  task: (orgId: string, sessionId: string, taskId: string) => ({
    pk: sessionPk(orgId, sessionId),
    sk: `${TASK_SK_PREFIX}${taskId}`,
  }),
  /** The progress head of an answer or a task being generated (jobs/progress.ts). */
  liveHead: (orgId: string, sessionId: string, itemId: string) => ({ pk: sessionPk(orgId, sessionId), sk: `${LIVE_SK_PREFIX}${itemId}` }),
  /** One progress part: of claim `generation` (a takeover starts afresh), number `seq` of it. */
  livePart: (orgId: string, sessionId: string, itemId: string, generation: number, seq: number) => ({
    pk: sessionPk(orgId, sessionId),
    sk: `${LIVE_SK_PREFIX}${itemId}#${String(generation).padStart(3, '0')}#${String(seq).padStart(6, '0')}`,
  }),
  /** An organization's answers in flight (jobs/in-flight.ts). */
  inFlight: (orgId: string) => ({ pk: `ORG#${orgId}#INFLIGHT`, sk: 'INFLIGHT' }),
  /** An organization's policy: its budget, retention and webhook flag (org-policy/). */
  orgPolicy: (orgId: string) => ({ pk: `ORG#${orgId}#POLICY`, sk: 'POLICY' }),
  /** An organization's usage counters, one partition (usage/repository.ts). */
  usagePartition: (orgId: string) => `ORG#${orgId}#USAGE`,
  /** One partition per org for its rate counters; one item per 10-second bucket. */
  rateCounter: (orgId: string) => `ORG#${orgId}#RATE`,
  /**
   * An idempotency record: scoped to the org and the user; `digest` hides the client's key. A user's
   * records share one partition, so that erasing the user finds them with one query.
   */
  idempotency: (orgId: string, userId: string, digest: string) => ({ pk: idempotencyPartition(orgId, userId), sk: digest }),
  idempotencyPartition: (orgId: string, userId: string) => idempotencyPartition(orgId, userId),
  /** The record of a user's erasure (erasure/). */
  erasure: (orgId: string, userId: string) => ({ pk: `ORG#${orgId}#ERASURE`, sk: userId }),
} as const;
