import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { env } from '../platform/env.js';
import { isConditionFailure, type Db } from '../store/client.js';
import { keys } from '../store/keys.js';

/**
 * An organization's answers in flight (asks and tasks being answered), counted atomically on one
 * item per organization: `n`, and one attribute per holder (`h_<hash of the claimer>`) holding when
 * its lease ends. A worker takes a place before it claims an answer and gives it back when the
 * answer is settled; a place whose worker died is taken back once its lease has ended. So one
 * organization cannot hold more than its share of the model calls, and another's ask starts at once.
 */
export function orgInFlight(db: Db) {
  const holderName = (claimer: string) => `h_${createHash('sha256').update(claimer).digest('hex').slice(0, 24)}`;

  const take = async (orgId: string, holder: string, cap: number, leaseUntil: number): Promise<boolean> => {
    try {
      await db.doc.send(
        new UpdateCommand({
          TableName: db.table,
          Key: keys.inFlight(orgId),
          UpdateExpression: 'SET #holder = :lease ADD n :one',
          ConditionExpression: '(attribute_not_exists(n) OR n < :cap) AND attribute_not_exists(#holder)',
          ExpressionAttributeNames: { '#holder': holder },
          ExpressionAttributeValues: { ':lease': leaseUntil, ':one': 1, ':cap': cap },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  };

  /** Gives back the places whose lease has ended (their workers died); true when any was. */
  const reclaimExpired = async (orgId: string, nowMs: number): Promise<boolean> => {
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.inFlight(orgId), ConsistentRead: true }));
    const expired = Object.entries(Item ?? {}).filter(([name, value]) => name.startsWith('h_') && Number(value) < nowMs);
    for (const [name, value] of expired) {
      await db.doc
        .send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.inFlight(orgId),
            UpdateExpression: 'REMOVE #holder ADD n :minusOne',
            ConditionExpression: '#holder = :lease',
            ExpressionAttributeNames: { '#holder': name },
            ExpressionAttributeValues: { ':lease': value, ':minusOne': -1 },
          }),
        )
        .catch((error: unknown) => {
          if (!isConditionFailure(error)) throw error;
        });
    }
    return expired.length > 0;
  };

  return {
    /**
     * Takes one of the organization's `cap` places for `claimer` until `leaseUntil` (epoch ms).
     * @returns false when all are taken: the answer waits for a place.
     */
    async acquire(orgId: string, claimer: string, cap: number, leaseUntil: number, nowMs = Date.now()): Promise<boolean> {
      const holder = holderName(claimer);
      if (await take(orgId, holder, cap, leaseUntil)) return true;
      return (await reclaimExpired(orgId, nowMs)) && take(orgId, holder, cap, leaseUntil);
    },

    /** Gives the place back (nothing happens if it was taken back already). */
    async release(orgId: string, claimer: string): Promise<void> {
      try {
        await db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: keys.inFlight(orgId),
            UpdateExpression: 'REMOVE #holder ADD n :minusOne',
            ConditionExpression: 'attribute_exists(#holder)',
            ExpressionAttributeNames: { '#holder': holderName(claimer) },
            ExpressionAttributeValues: { ':minusOne': -1 },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },

    /** How many places are taken (for tests and the benchmark). */
    async count(orgId: string): Promise<number> {
      const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.inFlight(orgId), ConsistentRead: true }));
      return Number(Item?.n ?? 0);
    },
  };
}

/** A place is held at most this long: as long as a claim (answering.ts LEASE_MS), so only a dead worker's runs out. */
const PLACE_LEASE_MS = 150_000;

/**
 * The organization's places in flight as the workers take them: `ORG_MAX_IN_FLIGHT` of them (no
 * cap, and no read or write, when it is 0).
 * @example if (!(await places.acquire(orgId, claimer))) return orgAtCapacity(); try { ... } finally { await places.release(orgId, claimer); }
 */
export function orgPlaces(db: Db) {
  const inFlight = orgInFlight(db);
  return {
    acquire: async (orgId: string, claimer: string): Promise<boolean> => {
      const cap = env.orgMaxInFlight();
      return cap === 0 || inFlight.acquire(orgId, claimer, cap, Date.now() + PLACE_LEASE_MS);
    },
    release: async (orgId: string, claimer: string): Promise<void> => {
      if (env.orgMaxInFlight() > 0) await inFlight.release(orgId, claimer);
    },
  };
}
