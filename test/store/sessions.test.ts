import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../../shared/auth/principal.js';
import { newId } from '../../shared/platform/ids.js';
import { ListSessionsQuery } from '../../shared/sessions/schema.js';
import { dynamoMessageRepository } from '../../shared/messages/repository.js';
import { dynamoSessionRepository } from '../../shared/sessions/repository.js';
import { sessionService, type SessionService } from '../../shared/sessions/service.js';
import { messageService } from '../../shared/messages/service.js';
import type { Db } from '../../shared/store/client.js';
import { keys } from '../../shared/store/keys.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';
import { appErrorOf as failure } from '../helpers/assertions.js';

const alice: Principal = { orgId: 'org_clinic', userId: 'user_alice', role: 'org:member' };
const bob: Principal = { orgId: 'org_clinic', userId: 'user_bob', role: 'org:member' };
const admin: Principal = { orgId: 'org_clinic', userId: 'user_admin', role: 'org:admin' };
const outsider: Principal = { orgId: 'org_lawfirm', userId: 'user_alice', role: 'org:admin' };

const query = (input: Record<string, string> = {}) => ListSessionsQuery.parse(input);

describe.each(BACKENDS)('sessions (service and repository) on %s', (_name, start) => {
  let db: Db;
  let sessions: SessionService;
  withFreshTable(start, (table) => {
    db = table;
    sessions = sessionService({ sessions: dynamoSessionRepository(db), messages: dynamoMessageRepository(db) });
  });

  it('creates a session and reads it back exactly, unicode included', async () => {
    const created = await sessions.create(alice, { name: 'Consulta — José 🩺', system_prompt: 'Réponds en français.' });
    expect(created).toEqual({
      session_id: expect.stringMatching(/^[0-9A-Z]{26}$/),
      name: 'Consulta — José 🩺',
      system_prompt: 'Réponds en français.',
      session_start: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      session_end: null,
      user_id: 'user_alice',
      org_id: 'org_clinic',
      message_count: 0,
    });
    await expect(sessions.get(alice, created.session_id)).resolves.toEqual(created);
  });

  it('gives defaults for a session created with nothing', async () => {
    const created = await sessions.create(alice, {});
    expect(created).toMatchObject({ name: 'New session', system_prompt: null, session_end: null });
  });

  it("hides a session from another org and another member, lets an admin read but not change it", async () => {
    const { session_id } = await sessions.create(alice, { name: 'private' });
    expect(await failure(sessions.get(bob, session_id))).toMatchObject({ kind: 'not_found' });
    expect(await failure(sessions.get(outsider, session_id))).toMatchObject({ kind: 'not_found' });
    expect(await failure(sessions.update(bob, session_id, { name: 'mine now' }))).toMatchObject({ kind: 'not_found' });
    expect(await failure(sessions.remove(outsider, session_id))).toMatchObject({ kind: 'not_found' });
    await expect(sessions.get(admin, session_id)).resolves.toMatchObject({ name: 'private', user_id: 'user_alice' });
    expect(await failure(sessions.update(admin, session_id, { name: 'admin edit' }))).toMatchObject({ kind: 'forbidden' });
    expect(await failure(sessions.remove(admin, session_id))).toMatchObject({ kind: 'forbidden' });
    await expect(sessions.get(alice, session_id)).resolves.toMatchObject({ name: 'private' });
  });

  it('renames, re-prompts and ends a session, keeping the first end time', async () => {
    const { session_id } = await sessions.create(alice, { name: 'a' });
    const renamed = await sessions.update(alice, session_id, { name: 'b', system_prompt: null });
    expect(renamed).toMatchObject({ name: 'b', system_prompt: null, session_end: null });
    const ended = await sessions.update(alice, session_id, { end: true });
    expect(ended.session_end).toMatch(/Z$/);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const again = await sessions.update(alice, session_id, { end: true, name: 'c' });
    expect(again.session_end).toBe(ended.session_end);
    expect(again.name).toBe('c');
  });

  it('lists only the caller’s sessions, newest first, in pages without gaps or repeats', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 7; i++) mine.push((await sessions.create(alice, { name: `s${i}` })).session_id);
    await sessions.create(bob, { name: 'bob' });
    await sessions.create(outsider, { name: 'other org' });

    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await sessions.list(alice, query({ limit: '3', ...(after ? { after } : {}) }));
      pages++;
      seen.push(...page.items.map((session) => session.session_id));
      expect(page.items.every((session) => session.user_id === 'user_alice' && session.org_id === 'org_clinic')).toBe(true);
      expect(page.has_more).toBe(page.next !== null);
      after = page.next ?? undefined;
    } while (after);
    expect(pages).toBe(3);
    expect(seen).toEqual([...mine].reverse());
  });

  it('keeps a cursor inside the caller’s own list, whatever id it names', async () => {
    const bobs = await sessions.create(bob, { name: 'bob' });
    const alices = await sessions.create(alice, { name: 'alice' });
    const page = await sessions.list(alice, query({ after: bobs.session_id }));
    // Bob's id is only a position: Alice sees her own sessions older than it (none here), never Bob's.
    expect(page.items.map((session) => session.session_id)).not.toContain(bobs.session_id);
    const fromTop = await sessions.list(alice, query({ after: newId() }));
    expect(fromTop.items.map((session) => session.session_id)).toEqual([alices.session_id]);
  });

  it('shows the last message with include_last, and null before any', async () => {
    const { session_id } = await sessions.create(alice, {});
    const empty = await sessions.list(alice, query({ include_last: 'true' }));
    expect(empty.items[0]!.last_message).toBeNull();
    for (const content of ['first', 'second']) {
      const message_id = newId();
      await db.doc.send(
        new PutCommand({
          TableName: db.table,
          Item: { ...keys.message('org_clinic', session_id, message_id), message_id, session_id, role: 'user', content, status: 'COMPLETED' },
        }),
      );
    }
    const page = await sessions.list(alice, query({ include_last: 'true' }));
    expect(page.items[0]!.last_message).toMatchObject({ content: 'second', role: 'user', session_id });
    expect(page.items[0]!.last_message).not.toHaveProperty('pk');
    const without = await sessions.list(alice, query());
    expect(without.items[0]).not.toHaveProperty('last_message');
  });

  it('shows each session’s last message in a page of 30 with one batch read, not a query per session', async () => {
    const counted = new Map<string, number>();
    const countingDb = { table: db.table, doc: { send: (command: object) => (counted.set(command.constructor.name, (counted.get(command.constructor.name) ?? 0) + 1), db.doc.send(command as never)) } } as unknown as Db;
    const counting = sessionService({ sessions: dynamoSessionRepository(countingDb), messages: dynamoMessageRepository(countingDb) });
    const messages = messageService({ messages: dynamoMessageRepository(db), sessions: dynamoSessionRepository(db), access: sessions });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { session_id } = await sessions.create(alice, { name: `s${i}` });
      ids.push(session_id);
      await messages.add(alice, session_id, { role: 'user', content: `first ${i}` });
      await messages.add(alice, session_id, { role: 'assistant', content: `last ${i}` });
    }
    counted.clear();
    const page = await counting.list(alice, query({ limit: '30', include_last: 'true' }));
    expect(page.items.map((session) => session.last_message?.content)).toEqual(ids.map((_, i) => `last ${i}`).reverse());
    expect(counted.get('QueryCommand')).toBe(1);
    expect(counted.get('BatchGetCommand')).toBe(1);
  });

  it('deletes a session with every item of its partition, more than one batch of them', async () => {
    const { session_id } = await sessions.create(alice, {});
    const kept = await sessions.create(alice, {});
    for (let i = 0; i < 30; i++) {
      const id = newId();
      const key = i % 3 ? keys.message('org_clinic', session_id, id) : keys.task('org_clinic', session_id, id);
      await db.doc.send(new PutCommand({ TableName: db.table, Item: { ...key, content: `item ${i}` } }));
    }
    await sessions.remove(alice, session_id);
    const { Items } = await db.doc.send(
      new QueryCommand({
        TableName: db.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.sessionPartition('org_clinic', session_id) },
      }),
    );
    expect(Items).toEqual([]);
    expect(await failure(sessions.get(alice, session_id))).toMatchObject({ kind: 'not_found' });
    expect((await sessions.list(alice, query())).items.map((session) => session.session_id)).toEqual([kept.session_id]);
  });

  it('hides a session whose delete was cut off, and finishes that delete on retry', async () => {
    const { session_id } = await sessions.create(alice, {});
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.session('org_clinic', session_id),
        UpdateExpression: 'SET deleting_at = :now',
        ExpressionAttributeValues: { ':now': new Date().toISOString() },
      }),
    );
    expect(await failure(sessions.get(alice, session_id))).toMatchObject({ kind: 'not_found' });
    expect((await sessions.list(alice, query())).items).toEqual([]);
    expect(await failure(sessions.update(alice, session_id, { name: 'x' }))).toMatchObject({ kind: 'not_found' });
    await sessions.remove(alice, session_id);
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: keys.session('org_clinic', session_id) }));
    expect(Item).toBeUndefined();
    expect(await failure(sessions.load(alice, session_id, 'write', { includeDeleting: true }))).toMatchObject({ kind: 'not_found' });
  });

  it('stops a list page before it grows past the answer size budget', async () => {
    // The documented numbers: prompts up to 100,000 characters, a list answer under 4 MB.
    const prompt = 'p'.repeat(100_000);
    const count = Math.ceil((4 * 1024 * 1024) / 100_000) + 2;
    for (let i = 0; i < count; i++) await sessions.create(alice, { system_prompt: prompt });
    const page = await sessions.list(alice, query({ limit: '1000' }));
    expect(page.items.length).toBeLessThan(count);
    expect(page.has_more).toBe(true);
    expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(4 * 1024 * 1024 + 2048);
    const rest = await sessions.list(alice, query({ limit: '1000', after: page.next! }));
    expect(page.items.length + rest.items.length).toBe(count);
  }, 60_000);
});
