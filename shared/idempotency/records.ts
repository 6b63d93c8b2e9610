import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import { AppError, conflict, invalid } from '../platform/errors.js';
import { deleteQueried } from '../store/batch.js';
import { isConditionFailure, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';

/**
 * The idempotency records of `Idempotency-Key` requests (the idempotency-key middleware uses them),
 * one item per org, user and key, in the single table.
 *
 * Powertools' idempotency utility was weighed against these records and not adopted: its record is
 * keyed by a hash of the event alone (per-user scoping would need the principal folded into the
 * hashed payload), it deletes a failed request's record by key without a condition, so a request
 * that stalled past its hold could release its successor's key (the `run` token here prevents
 * that), and its item shape would change every stored record. See docs/architecture.md.
 */

/** How long a key is remembered. */
const RECORD_TTL_SECONDS = 24 * 3600;
/** After this, a request that never finished (its function died) no longer holds its key. */
const IN_PROGRESS_SECONDS = 60;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** A stored idempotency record. */
interface IdempotencyItem {
  pk: string;
  sk: string;
  entity: 'idempotency';
  state: 'IN_PROGRESS' | 'COMPLETED';
  /** sha256 of method, path and body: the same key for another request is refused. */
  fingerprint: string;
  /** The token of the run that holds the key. */
  run: string;
  /** Epoch seconds; past it, an unfinished run no longer holds the key. */
  in_progress_until?: number;
  /** Epoch seconds (the table's TTL attribute). */
  expires_at: number;
  /** When the request came (an erasure removes those before it). */
  created_at?: string;
  response?: StoredResponse;
}

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface IdempotentRequest {
  key: ReturnType<typeof keys.idempotency>;
  fingerprint: string;
  /** This run's token: a run that stalled and was taken over can no longer finish or release the key. */
  run: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** JSON with every object's keys in order: the same request gives the same text, whatever its field order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Starts a request under an `Idempotency-Key`: records it as in progress, or, when the key was
 * seen before, answers with the first request's response (same request), 409 (the first is still
 * being handled) or 422 (the key was used for a different request).
 * @returns the stored response to replay, or the handle to finish this request with.
 */
export async function beginIdempotent(
  db: Db,
  principal: Principal,
  clientKey: string,
  request: { method: string; path: string; body: unknown },
  nowMs = Date.now(),
): Promise<{ replay: StoredResponse } | { started: IdempotentRequest }> {
  if (!KEY_PATTERN.test(clientKey)) {
    throw invalid('The Idempotency-Key header must be 1 to 255 printable ASCII characters without spaces.');
  }
  const key = keys.idempotency(principal.orgId, principal.userId, sha256(clientKey));
  const fingerprint = sha256(`${request.method} ${request.path}\n${canonicalJson(request.body ?? null)}`);
  const now = Math.floor(nowMs / 1000);
  const run = randomUUID();
  try {
    await db.doc.send(
      new PutCommand({
        TableName: db.table,
        Item: {
          ...key,
          entity: 'idempotency',
          state: 'IN_PROGRESS',
          fingerprint,
          run,
          in_progress_until: now + IN_PROGRESS_SECONDS,
          expires_at: now + RECORD_TTL_SECONDS,
          created_at: new Date(nowMs).toISOString(),
        } satisfies IdempotencyItem,
        // A new key, an expired record (TTL deletes lazily), or a request whose function died.
        ConditionExpression:
          'attribute_not_exists(pk) OR expires_at < :now OR (#state = :inProgress AND in_progress_until < :now)',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':now': now, ':inProgress': 'IN_PROGRESS' },
      }),
    );
    return { started: { key, fingerprint, run } };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  const Item = (await db.doc.send(new GetCommand({ TableName: db.table, Key: key, ConsistentRead: true }))).Item as IdempotencyItem | undefined;
  if (!Item) return beginIdempotent(db, principal, clientKey, request, nowMs);
  if (Item.fingerprint !== fingerprint) {
    throw new AppError(
      'idempotency_mismatch',
      'idempotency_key_reused',
      'This Idempotency-Key was already used for a different request. Use a new key for a new request.',
    );
  }
  if (Item.state === 'IN_PROGRESS') {
    throw conflict('A request with this Idempotency-Key is still being handled. Retry in a moment.', 'idempotency_in_progress');
  }
  return { replay: Item.response! };
}

/** Stores the response of a request begun with {@link beginIdempotent}, for its retries. */
export async function finishIdempotent(db: Db, request: IdempotentRequest, response: StoredResponse): Promise<void> {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: request.key,
        UpdateExpression: 'SET #state = :done, #response = :response REMOVE in_progress_until',
        ConditionExpression: '#run = :run',
        ExpressionAttributeNames: { '#state': 'state', '#response': 'response', '#run': 'run' },
        ExpressionAttributeValues: { ':done': 'COMPLETED', ':response': response, ':run': request.run },
      }),
    );
  } catch (error) {
    // This run stalled past its hold and a retry took the key over: the retry's answer stands.
    if (!isConditionFailure(error)) throw error;
  }
}

/** Forgets a request that failed, so that its retry runs again rather than replaying an error. */
export async function abandonIdempotent(db: Db, request: IdempotentRequest): Promise<void> {
  await db.doc.send(
    new DeleteCommand({
      TableName: db.table,
      Key: request.key,
      ConditionExpression: '#state = :inProgress AND #run = :run',
      ExpressionAttributeNames: { '#state': 'state', '#run': 'run' },
      ExpressionAttributeValues: { ':inProgress': 'IN_PROGRESS', ':run': request.run },
    }),
  ).catch((error: Error) => {
    if (!isConditionFailure(error)) throw error;
  });
}

/**
 * Deletes the idempotency records a user's requests made before `before` (ISO time) in an
 * organization (they hold the responses the user was given), for an erasure; returns how many went.
 * A request still running then stores nothing: its finish is conditioned on its record.
 */
export function removeUserIdempotencyRecords(db: Db, orgId: string, userId: string, before: string): Promise<number> {
  return deleteQueried(db, {
    KeyConditionExpression: 'pk = :pk',
    // Records without their time (older ones): their expiry is their creation and RECORD_TTL_SECONDS.
    FilterExpression: 'created_at <= :before OR (attribute_not_exists(created_at) AND expires_at <= :made_before)',
    ExpressionAttributeValues: {
      ':pk': keys.idempotencyPartition(orgId, userId),
      ':before': before,
      ':made_before': Math.floor(Date.parse(before) / 1000) + RECORD_TTL_SECONDS,
    },
    ProjectionExpression: 'pk, sk',
  });
}

/** What the idempotency-key middleware needs of the records: begin, finish, abandon. */
export interface IdempotencyRecords {
  begin(principal: Principal, clientKey: string, request: { method: string; path: string; body: unknown }): ReturnType<typeof beginIdempotent>;
  finish(request: IdempotentRequest, response: StoredResponse): Promise<void>;
  abandon(request: IdempotentRequest): Promise<void>;
}

/** The records in the single table. */
export const dynamoIdempotencyRecords = (db: Db): IdempotencyRecords => ({
  begin: (principal, clientKey, request) => beginIdempotent(db, principal, clientKey, request),
  finish: (request, response) => finishIdempotent(db, request, response),
  abandon: (request) => abandonIdempotent(db, request),
});
