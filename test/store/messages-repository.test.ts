/** The message repository against dynalite and DynamoDB Local: keys, order, paging, the worker's queries, failing on read. */
import { dynamoMessageRepository, type MessageRepository, type NewMessage } from '../../shared/messages/repository.js';
import { newId } from '../../shared/platform/ids.js';
import type { Db } from '../../shared/store/client.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';

const ORG = 'org_clinic';

const message = (sessionId: string, fields: Partial<NewMessage> = {}): NewMessage => ({
  message_id: newId(),
  session_id: sessionId,
  user_id: 'user_alice',
  role: 'user',
  content: 'hello',
  status: 'COMPLETED',
  created_at: new Date().toISOString(),
  ...fields,
});

describe.each(BACKENDS)('message repository on %s', (_name, start) => {
  let db: Db;
  let messages: MessageRepository;
  withFreshTable(start, (table) => {
    db = table;
    messages = dynamoMessageRepository(db);
  });

  it('stores a message under its org and session, and reads it back only there', async () => {
    const sessionId = newId();
    const stored = await messages.put(ORG, message(sessionId, { content: 'Grüße 🩺' }));
    expect(stored).toMatchObject({ pk: `ORG#${ORG}#SESSION#${sessionId}`, sk: `MSG#${stored.message_id}`, entity: 'message' });
    await expect(messages.get(ORG, sessionId, stored.message_id)).resolves.toEqual(stored);
    await expect(messages.get('org_other', sessionId, stored.message_id)).resolves.toBeUndefined();
  });

  it('pages a session’s messages in id order, both ways, without gaps, and finds the last one', async () => {
    const sessionId = newId();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await messages.put(ORG, message(sessionId, { content: `m${i}` }))).message_id);
    await messages.put(ORG, message(newId()));
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await messages.page(ORG, sessionId, { limit: 2, order: 'asc', after });
      seen.push(...page.items.map((item) => item.message_id));
      after = page.next ?? undefined;
    } while (after);
    expect(seen).toEqual(ids);
    expect((await messages.page(ORG, sessionId, { limit: 10, order: 'desc' })).items.map((item) => item.message_id)).toEqual([...ids].reverse());
    expect((await messages.last(ORG, sessionId))?.message_id).toBe(ids.at(-1));
  });

  it('finds the finished turns before an item', async () => {
    const sessionId = newId();
    const q1 = message(sessionId, { content: 'q1' });
    const a1 = message(sessionId, { role: 'assistant', content: 'a1', status: 'COMPLETED' });
    const q2 = message(sessionId, { content: 'q2' });
    const a2 = message(sessionId, { role: 'assistant', content: '', status: 'PENDING' });
    await messages.putAll(ORG, [q1, a1, q2, a2]);
    expect(await messages.finishedTurnsBefore(ORG, sessionId, a2.message_id, () => false)).toEqual([
      { role: 'user', content: 'q2' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'q1' },
    ]);
  });

  it('fails an unfinished message, and leaves a finished one as it is', async () => {
    const sessionId = newId();
    const waiting = await messages.put(ORG, message(sessionId, { role: 'assistant', content: '', status: 'PENDING' }));
    const done = await messages.put(ORG, message(sessionId, { role: 'assistant', content: 'answer', status: 'COMPLETED' }));
    await expect(messages.failUnfinished(waiting, { content: 'gave up', error: 'gave up' })).resolves.toMatchObject({ status: 'FAILED', error: 'gave up' });
    await expect(messages.failUnfinished(done, { content: 'gave up', error: 'gave up' })).resolves.toBeUndefined();
    await expect(messages.get(ORG, sessionId, done.message_id)).resolves.toMatchObject({ status: 'COMPLETED', content: 'answer' });
  });

  it('withdraws a waiting answer no worker has claimed, and only that', async () => {
    const sessionId = newId();
    const unclaimed = await messages.put(ORG, message(sessionId, { role: 'assistant', content: '', status: 'PENDING' }));
    const claimed = await messages.put(ORG, message(sessionId, { role: 'assistant', content: '', status: 'PROCESSING', attempts: 1 }));
    const released = await messages.put(ORG, message(sessionId, { role: 'assistant', content: '', status: 'PENDING', attempts: 1 }));
    await expect(messages.withdrawUnclaimed(ORG, sessionId, unclaimed.message_id)).resolves.toBe(true);
    await expect(messages.get(ORG, sessionId, unclaimed.message_id)).resolves.toBeUndefined();
    await expect(messages.withdrawUnclaimed(ORG, sessionId, unclaimed.message_id)).resolves.toBe(false);
    await expect(messages.withdrawUnclaimed(ORG, sessionId, claimed.message_id)).resolves.toBe(false);
    await expect(messages.withdrawUnclaimed(ORG, sessionId, released.message_id)).resolves.toBe(false);
    expect((await messages.page(ORG, sessionId, { limit: 10, order: 'asc' })).items.map((item) => item.message_id)).toEqual([claimed.message_id, released.message_id]);
  });

  it('deletes one message and returns it, several at once, and what is gone is no error', async () => {
    const sessionId = newId();
    const [one, two, three] = [message(sessionId), message(sessionId), message(sessionId)];
    await messages.putAll(ORG, [one!, two!, three!]);
    await expect(messages.delete(ORG, sessionId, one!.message_id)).resolves.toMatchObject({ message_id: one!.message_id });
    await expect(messages.delete(ORG, sessionId, one!.message_id)).resolves.toBeUndefined();
    await messages.deleteAll(ORG, sessionId, [one!.message_id, two!.message_id, three!.message_id]);
    expect((await messages.page(ORG, sessionId, { limit: 10, order: 'asc' })).items).toEqual([]);
  });
});
