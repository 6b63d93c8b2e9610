/**
 * Writes racing a delete or an end of their session, on both DynamoDB backends, through the
 * services wired to the real repositories (the queue is an in-memory stand-in: what matters here is
 * what the table keeps). Each race is run many times, as a black-box attack found them 19 times in 20.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../../shared/auth/principal.js';
import { dynamoMessageRepository } from '../../shared/messages/repository.js';
import { askService, messageService } from '../../shared/messages/service.js';
import { dynamoSessionRepository } from '../../shared/sessions/repository.js';
import { sessionService } from '../../shared/sessions/service.js';
import type { Db } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { dynamoTaskRepository } from '../../shared/tasks/repository.js';
import { taskService, taskStartService } from '../../shared/tasks/service.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';
import { FakeQueue, fakeRateLimiter } from '../helpers/fake-repositories.js';

const alice: Principal = { orgId: 'org_clinic', userId: 'user_alice', role: 'org:member' };
const TRIALS = 12;

describe.each(BACKENDS)('writes racing their session on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => (db = table));

  function services() {
    const sessions = dynamoSessionRepository(db);
    const messages = dynamoMessageRepository(db);
    const tasks = dynamoTaskRepository(db);
    const queue = new FakeQueue();
    const access = sessionService({ sessions, messages });
    const rateLimit = fakeRateLimiter();
    return {
      queue,
      sessions: access,
      messages: messageService({ messages, sessions, access }),
      asks: askService({ messages, sessions, access, queue, rateLimit }),
      tasks: taskService({ tasks, access }),
      taskStarts: taskStartService({ tasks, access, queue, rateLimit }),
    };
  }

  const partition = async (sessionId: string) =>
    (
      await db.doc.send(
        new QueryCommand({
          TableName: db.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.sessionPartition(alice.orgId, sessionId) },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];

  it('leaves nothing of a session behind once its delete has answered', async () => {
    const leftovers: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const s = services();
      const { session_id } = await s.sessions.create(alice, {});
      const writes = [
        s.asks.ask(alice, session_id, { message: 'racing' }),
        s.messages.add(alice, session_id, { role: 'user', content: 'racing' }),
        s.taskStarts.create(alice, session_id, { task: 'racing' }),
        s.asks.ask(alice, session_id, { message: 'racing too' }),
      ];
      const deleted = s.sessions.remove(alice, session_id);
      await Promise.allSettled([...writes, deleted]);
      await expect(deleted).resolves.toBeUndefined();
      const items = await partition(session_id);
      if (items.length) leftovers.push(`trial ${trial}: ${items.map((item) => item.sk).join(', ')}`);
    }
    expect(leftovers).toEqual([]);
  }, 60_000);

  it('accepts a write only while its session is open: nothing stored is newer than the end', async () => {
    const late: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const s = services();
      const { session_id } = await s.sessions.create(alice, {});
      const writes = Array.from({ length: 8 }, (_, index) =>
        index % 2 ? s.messages.add(alice, session_id, { role: 'user', content: `m${index}` }) : s.asks.ask(alice, session_id, { message: `q${index}` }),
      );
      const ended = s.sessions.update(alice, session_id, { end: true });
      const results = await Promise.allSettled(writes);
      const { session_end } = await ended;
      for (const result of results) {
        if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'session_ended' });
      }
      for (const item of await partition(session_id)) {
        if (item.sk !== 'SESSION' && String(item.created_at) > String(session_end)) late.push(`trial ${trial}: ${item.sk} at ${item.created_at} > ${session_end}`);
      }
    }
    expect(late).toEqual([]);
  }, 60_000);
});
