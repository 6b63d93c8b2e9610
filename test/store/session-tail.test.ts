/** jobs/session-tail.ts against dynalite and DynamoDB Local: one query gives the session and its newest messages. */
import { sessionTail } from '../../shared/jobs/session-tail.js';
import { dynamoMessageRepository, type NewMessage } from '../../shared/messages/repository.js';
import { newId } from '../../shared/platform/ids.js';
import type { Db } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';

const ORG = 'org_clinic';

describe.each(BACKENDS)('session tail on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => {
    db = table;
  });

  it('reads the session first, then its messages newest first, page after page, and nothing of the tasks or progress', async () => {
    const sessionId = newId();
    await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...keys.session(ORG, sessionId), entity: 'session', session_id: sessionId, answered_through: 'x' } }));
    const ids: string[] = [];
    const batch: NewMessage[] = [];
    for (let i = 0; i < 60; i++) {
      const id = newId();
      ids.push(id);
      batch.push({ message_id: id, session_id: sessionId, user_id: 'user_alice', role: i % 2 ? 'assistant' : 'user', content: `m${i}`, status: 'COMPLETED', created_at: new Date().toISOString() });
    }
    await dynamoMessageRepository(db).putAll(ORG, batch);
    // Items of the same partition that are not messages: a task and a progress head.
    await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...keys.task(ORG, sessionId, newId()), entity: 'task' } }));
    await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...keys.liveHead(ORG, sessionId, ids[5]!), seq: 1 } }));
    const tail = sessionTail(db, ORG, sessionId);
    expect(await tail.session()).toMatchObject({ session_id: sessionId, answered_through: 'x' });
    const seen: string[] = [];
    for await (const message of tail.newestFirst()) seen.push(message.message_id);
    expect(seen).toEqual([...ids].reverse());
    // A second walk reads nothing more: it goes over what was read.
    const again: string[] = [];
    for await (const message of tail.newestFirst()) {
      again.push(message.message_id);
      if (again.length === 3) break;
    }
    expect(again).toEqual([...ids].reverse().slice(0, 3));
  });

  it('has no session for a session that does not exist, and no messages', async () => {
    const tail = sessionTail(db, ORG, newId());
    expect(await tail.session()).toBeUndefined();
    const seen = [];
    for await (const message of tail.newestFirst()) seen.push(message);
    expect(seen).toEqual([]);
  });
});
