import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { deleteQueried } from '../store/batch.js';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { queryAll } from '../store/paging.js';

/** Tokens of one finished answer or task, as the provider reported them (or as estimated for a stopped one). */
export interface TokenUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Counts over some answers and tasks. */
export interface UsageCounts extends TokenUsage {
  requests: number;
}

/** One UTC day of an organization: its totals, and the same per model. */
export interface UsageDay extends UsageCounts {
  date: string;
  models: Map<string, UsageCounts>;
}

/** One UTC day of one user of an organization. */
export interface UsageUserDay extends UsageCounts {
  date: string;
  user_id: string;
}

export interface UsageRepository {
  /** Adds one finished answer or task: to its day's totals and model's, and to its user's day. */
  add(orgId: string, entry: { date: string; userId: string; model: string; usage: TokenUsage }): Promise<void>;
  /** The organization's days from `from` to `to` (both included), oldest first; days without usage are absent. */
  days(orgId: string, from: string, to: string): Promise<UsageDay[]>;
  /** The users' days from `from` to `to`. */
  userDays(orgId: string, from: string, to: string): Promise<UsageUserDay[]>;
  /** Removes every day row of one user (their erasure); the organization's days stay. */
  removeUser(orgId: string, userId: string): Promise<number>;
}

/** Usage rows are kept this long, whatever the organization's retention (they hold no content). */
export const USAGE_KEEP_DAYS = 400;

const DAY = 'DAY#';
const USER_DAY = 'UDAY#';
const COUNTS = ['requests', 'prompt_tokens', 'completion_tokens', 'total_tokens'] as const;
/** A model's counters on a day item: `m|<model>|<counter>` (names of attributes may hold any text). */
const modelAttribute = (model: string, counter: (typeof COUNTS)[number]) => `m|${model}|${counter}`;

const zero = (): UsageCounts => ({ requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 });
const countsOf = (item: Record<string, unknown>, name: (counter: (typeof COUNTS)[number]) => string = (counter) => counter): UsageCounts => {
  const counts = zero();
  for (const counter of COUNTS) counts[counter] = Number(item[name(counter)] ?? 0);
  return counts;
};

/**
 * The usage counters of each organization, one partition per organization: a `DAY#<date>` item per
 * UTC day (totals, and per model), and a `UDAY#<date>#<user>` item per user and day. A finished
 * answer adds to both with one atomic `ADD` each; reading a range is one query per kind.
 */
export function dynamoUsageRepository(db: Db): UsageRepository {
  const pk = keys.usagePartition;
  const expiresAt = (date: string) => Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000) + USAGE_KEEP_DAYS * 86_400;

  return {
    async add(orgId, { date, userId, model, usage }) {
      const values = { ':one': 1, ':p': usage.prompt_tokens, ':c': usage.completion_tokens, ':t': usage.total_tokens, ':date': date, ':exp': expiresAt(date) };
      const names: Record<string, string> = { '#date': 'date' };
      const modelAdds = COUNTS.map((counter, index) => {
        names[`#m${index}`] = modelAttribute(model, counter);
        return `#m${index} ${[':one', ':p', ':c', ':t'][index]}`;
      });
      await Promise.all([
        db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: { pk: pk(orgId), sk: `${DAY}${date}` },
            UpdateExpression: `ADD requests :one, prompt_tokens :p, completion_tokens :c, total_tokens :t, ${modelAdds.join(', ')} SET #date = :date, entity = :entity, expires_at = :exp`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ...values, ':entity': 'usage_day' },
          }),
        ),
        db.doc.send(
          new UpdateCommand({
            TableName: db.table,
            Key: { pk: pk(orgId), sk: `${USER_DAY}${date}#${userId}` },
            UpdateExpression: 'ADD requests :one, prompt_tokens :p, completion_tokens :c, total_tokens :t SET #date = :date, user_id = :user, entity = :entity, expires_at = :exp',
            ExpressionAttributeNames: { '#date': 'date' },
            ExpressionAttributeValues: { ...values, ':user': userId, ':entity': 'usage_user_day' },
          }),
        ),
      ]);
    },

    async days(orgId, from, to) {
      const items = await queryAll(db, {
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: { ':pk': pk(orgId), ':from': `${DAY}${from}`, ':to': `${DAY}${to}` },
      });
      return items.map((item) => {
        const models = new Map<string, UsageCounts>();
        for (const name of Object.keys(item)) {
          const match = /^m\|(.*)\|requests$/.exec(name);
          if (match) models.set(match[1]!, countsOf(item, (counter) => modelAttribute(match[1]!, counter)));
        }
        return { date: String(item.date), ...countsOf(item), models };
      });
    },

    async userDays(orgId, from, to) {
      const items = await queryAll(db, {
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        // `~` sorts after every user id: the last day's rows are all in.
        ExpressionAttributeValues: { ':pk': pk(orgId), ':from': `${USER_DAY}${from}#`, ':to': `${USER_DAY}${to}#~` },
      });
      return items.map((item) => ({ date: String(item.date), user_id: String(item.user_id), ...countsOf(item) }));
    },

    removeUser: (orgId, userId) =>
      deleteQueried(db, {
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :user_days)',
        FilterExpression: 'user_id = :user',
        ProjectionExpression: 'pk, sk',
        ExpressionAttributeValues: { ':pk': pk(orgId), ':user_days': USER_DAY, ':user': userId },
      }),
  };
}

export { zero as noUsage };
