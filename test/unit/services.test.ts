/**
 * The services' rules against in-memory repositories (test/helpers/fake-repositories.ts): who may
 * do what, what is stored, what is queued, and what happens when the queue is down or an answer is
 * overdue. The repositories themselves are tested against dynalite and DynamoDB Local (test/store).
 */
import type { Principal } from '../../shared/auth/principal.js';
import { askService, messageService } from '../../shared/messages/service.js';
import { sessionService } from '../../shared/sessions/service.js';
import { taskService, taskStartService } from '../../shared/tasks/service.js';
import { ListMessagesQuery } from '../../shared/messages/schema.js';
import { ListSessionsQuery } from '../../shared/sessions/schema.js';
import { appErrorOf as failure } from '../helpers/assertions.js';
import { withEnv } from '../helpers/env.js';
import { FakeMessages, FakeQueue, fakeRateLimiter, FakeSessions, FakeTasks } from '../helpers/fake-repositories.js';

const alice: Principal = { orgId: 'org_clinic', userId: 'user_alice', role: 'org:member' };
const bob: Principal = { orgId: 'org_clinic', userId: 'user_bob', role: 'org:member' };
const admin: Principal = { orgId: 'org_clinic', userId: 'user_admin', role: 'org:admin' };
const outsider: Principal = { orgId: 'org_law', userId: 'user_alice', role: 'org:admin' };

function world(options: { allowed?: number } = {}) {
  const sessionItems = new FakeSessions();
  const messageItems = new FakeMessages();
  const taskItems = new FakeTasks();
  const queue = new FakeQueue();
  const rateLimit = fakeRateLimiter(options.allowed);
  const sessions = sessionService({ sessions: sessionItems, messages: messageItems });
  const messageDeps = { messages: messageItems, sessions: sessionItems, access: sessions };
  const messages = { ...messageService(messageDeps), ...askService({ ...messageDeps, queue, rateLimit }) };
  const tasks = { ...taskService({ tasks: taskItems, access: sessions }), ...taskStartService({ tasks: taskItems, access: sessions, queue, rateLimit }) };
  return { sessionItems, messageItems, taskItems, queue, rateLimit, sessions, messages, tasks };
}

const listQuery = (input: Record<string, string> = {}) => ListSessionsQuery.parse(input);
const messagesQuery = (input: Record<string, string> = {}) => ListMessagesQuery.parse(input);

describe('session service', () => {
  it('creates a session owned by the caller, with defaults', async () => {
    const { sessions } = world();
    const created = await sessions.create(alice, {});
    expect(created).toMatchObject({ name: 'New session', system_prompt: null, session_end: null, user_id: 'user_alice', org_id: 'org_clinic', message_count: 0 });
    await expect(sessions.get(alice, created.session_id)).resolves.toEqual(created);
  });

  it('hides a session from another member and another org; an admin reads it but may not change it', async () => {
    const { sessions } = world();
    const { session_id } = await sessions.create(alice, { name: 'private' });
    expect(await failure(sessions.get(bob, session_id))).toMatchObject({ kind: 'not_found', message: 'Session not found.' });
    expect(await failure(sessions.get(outsider, session_id))).toMatchObject({ kind: 'not_found' });
    await expect(sessions.get(admin, session_id)).resolves.toMatchObject({ name: 'private' });
    expect(await failure(sessions.update(admin, session_id, { name: 'x' }))).toMatchObject({ kind: 'forbidden', code: 'not_session_owner' });
    expect(await failure(sessions.remove(admin, session_id))).toMatchObject({ kind: 'forbidden' });
  });

  it('ends a session once: a second end keeps the first time', async () => {
    const { sessions } = world();
    const { session_id } = await sessions.create(alice, {});
    const ended = await sessions.update(alice, session_id, { end: true });
    expect(ended.session_end).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, 3));
    expect((await sessions.update(alice, session_id, { end: true, name: 'later' })).session_end).toBe(ended.session_end);
  });

  it('lists the caller’s sessions newest first, with the last message when asked', async () => {
    const { sessions, messages } = world();
    const older = await sessions.create(alice, { name: 'older' });
    const newer = await sessions.create(alice, { name: 'newer' });
    await sessions.create(bob, { name: 'bob' });
    await messages.add(alice, older.session_id, { role: 'user', content: 'hello' });
    const page = await sessions.list(alice, listQuery({ include_last: 'true' }));
    expect(page.items.map((session) => session.name)).toEqual(['newer', 'older']);
    expect(page.items[0]!.last_message).toBeNull();
    expect(page.items[1]!.last_message).toMatchObject({ content: 'hello', role: 'user', status: 'COMPLETED' });
    expect(newer.session_id > older.session_id).toBe(true);
  });

  it('deletes: the session is marked first, then gone with its items, and a second delete is not found', async () => {
    const { sessions, sessionItems } = world();
    const { session_id } = await sessions.create(alice, {});
    const marks: string[] = [];
    sessionItems.onDelete = (_org, id) => marks.push(`${id}:${sessionItems.items.get(`org_clinic/${id}`)?.deleting_at ? 'marked' : 'unmarked'}`);
    await sessions.remove(alice, session_id);
    expect(marks).toEqual([`${session_id}:marked`]);
    expect(await failure(sessions.remove(alice, session_id))).toMatchObject({ kind: 'not_found' });
  });
});

describe('message service', () => {
  it('asks: stores the question and a PENDING answer, counts them, and queues a job naming the answer', async () => {
    const { sessions, messages, messageItems, queue, sessionItems } = world();
    const { session_id } = await sessions.create(alice, {});
    const accepted = await messages.ask(alice, session_id, { message: 'What is hypertension?', model: 'gpt-4o-mini' });
    expect(accepted).toEqual({ message_id: expect.any(String), user_message_id: expect.any(String), status: 'PENDING' });
    expect(queue.jobs).toEqual([{ kind: 'ask', org_id: 'org_clinic', session_id, message_id: accepted.message_id, enqueued_at: expect.any(String) }]);
    const answer = await messageItems.get('org_clinic', session_id, accepted.message_id);
    expect(answer).toMatchObject({ role: 'assistant', status: 'PENDING', reply_to: accepted.user_message_id, request_model: 'gpt-4o-mini', user_id: 'user_alice' });
    expect(await messages.get(alice, session_id, accepted.user_message_id)).toMatchObject({ role: 'user', content: 'What is hypertension?', status: 'COMPLETED' });
    expect(sessionItems.items.get(`org_clinic/${session_id}`)?.message_count).toBe(2);
  });

  it('leaves nothing behind and answers a retryable 503 when the job cannot be queued', async () => {
    const { sessions, messages, messageItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    queue.down = true;
    expect(await failure(messages.ask(alice, session_id, { message: 'lost?' }))).toMatchObject({
      kind: 'unavailable',
      code: 'queue_unavailable',
      details: { retryAfterSeconds: 5 },
    });
    expect(messageItems.items.size).toBe(0);
    expect((await sessions.get(alice, session_id)).message_count).toBe(0);
  });

  it('accepts an ask whose send failed but reached the queue: a worker had claimed its answer', async () => {
    const { sessions, messages, messageItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    queue.lostAnswer = async (job) => {
      const answer = messageItems.items.get(`org_clinic/${session_id}/${job.kind === 'ask' ? job.message_id : ''}`)!;
      Object.assign(answer, { status: 'PROCESSING', attempts: 1 });
    };
    const accepted = await messages.ask(alice, session_id, { message: 'sent?' });
    expect(accepted).toMatchObject({ status: 'PENDING' });
    expect(queue.jobs).toHaveLength(1);
    expect(messageItems.items.size).toBe(2);
    expect((await sessions.get(alice, session_id)).message_count).toBe(2);
  });

  it('withdraws an ask whose failed send may have reached the queue while no worker has claimed it', async () => {
    const { sessions, messages, messageItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    queue.lostAnswer = async () => undefined;
    expect(await failure(messages.ask(alice, session_id, { message: 'sent?' }))).toMatchObject({ code: 'queue_unavailable' });
    expect(queue.jobs).toHaveLength(1); // its worker will find nothing to answer
    expect(messageItems.items.size).toBe(0);
    expect((await sessions.get(alice, session_id)).message_count).toBe(0);
  });

  it('removes what it stored when the session cannot be told of the write (the store failed), and says so', async () => {
    const { sessions, messages, messageItems, sessionItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    sessionItems.admitWrite = async () => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    };
    await expect(messages.ask(alice, session_id, { message: 'lost?' })).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(messages.add(alice, session_id, { role: 'user', content: 'lost?' })).rejects.toMatchObject({ name: 'ThrottlingException' });
    expect(messageItems.items.size).toBe(0);
    expect(queue.jobs).toEqual([]);
  });

  it('refuses asks, tasks and messages on an ended session, and rate limits asks before storing anything', async () => {
    const { sessions, messages, messageItems } = world({ allowed: 1 });
    const open = await sessions.create(alice, {});
    await messages.ask(alice, open.session_id, { message: 'one' });
    expect(await failure(messages.ask(alice, open.session_id, { message: 'two' }))).toMatchObject({ kind: 'rate_limited' });
    expect(messageItems.items.size).toBe(2);
    // An ask is counted before its session is known (the session is not read first).
    expect(await failure(messages.ask(alice, '01JAAAAAAAAAAAAAAAAAAAAAAA', { message: 'x' }))).toMatchObject({ kind: 'rate_limited' });

    const endedWorld = world();
    const ended = await endedWorld.sessions.create(alice, {});
    await endedWorld.sessions.update(alice, ended.session_id, { end: true });
    expect(await failure(endedWorld.messages.ask(alice, ended.session_id, { message: 'x' }))).toMatchObject({ kind: 'conflict', code: 'session_ended' });
    expect(await failure(endedWorld.messages.add(alice, ended.session_id, { role: 'user', content: 'x' }))).toMatchObject({ kind: 'conflict', code: 'session_ended' });
    expect(await failure(endedWorld.tasks.create(alice, ended.session_id, { task: 'x' }))).toMatchObject({ kind: 'conflict', code: 'session_ended' });
    expect(endedWorld.messageItems.items.size).toBe(0);
  });

  it('reads a message of another member as not found, and lets an admin read it', async () => {
    const { sessions, messages } = world();
    const { session_id } = await sessions.create(alice, {});
    const added = await messages.add(alice, session_id, { role: 'assistant', content: 'noted' });
    expect(await failure(messages.get(bob, session_id, added.message_id))).toMatchObject({ kind: 'not_found', message: 'Message not found.' });
    expect(await failure(messages.get(outsider, session_id, added.message_id))).toMatchObject({ kind: 'not_found' });
    await expect(messages.get(admin, session_id, added.message_id)).resolves.toMatchObject({ content: 'noted' });
  });

  it('fails an answer read past the deadline, with a sentence that says to send it again', async () => {
    const { sessions, messages, messageItems } = world();
    const { session_id } = await sessions.create(alice, {});
    const { message_id } = await messages.ask(alice, session_id, { message: 'slow' });
    messageItems.items.get(`org_clinic/${session_id}/${message_id}`)!.created_at = new Date(Date.now() - 61 * 60_000).toISOString();
    const sentence = 'No answer came within 60 minutes, so this request was given up. Send it again.';
    const read = await withEnv({ JOB_DEADLINE_MINUTES: undefined }, () => messages.get(alice, session_id, message_id));
    expect(read).toMatchObject({ status: 'FAILED', content: sentence, error: sentence });
    const listed = await messages.list(alice, session_id, messagesQuery({ order: 'asc' }));
    expect(listed.items.map((message) => message.status)).toEqual(['COMPLETED', 'FAILED']);
  });

  it('deletes a message once, and counts it off', async () => {
    const { sessions, messages } = world();
    const { session_id } = await sessions.create(alice, {});
    const added = await messages.add(alice, session_id, { role: 'user', content: 'bye' });
    await messages.remove(alice, session_id, added.message_id);
    expect(await failure(messages.remove(alice, session_id, added.message_id))).toMatchObject({ kind: 'not_found' });
    expect((await sessions.get(alice, session_id)).message_count).toBe(0);
  });
});

describe('task service', () => {
  it('stores a pending task with its request and queues it', async () => {
    const { sessions, tasks, taskItems, queue } = world();
    const { session_id } = await sessions.create(alice, { system_prompt: 'session prompt' });
    const accepted = await tasks.create(alice, session_id, { task: 'Summarize', system_prompt: 'Be brief.', history: [{ role: 'user', content: 'hi' }] });
    expect(accepted).toEqual({ ctx_id: expect.any(String), status: 'pending' });
    expect(queue.jobs).toEqual([{ kind: 'ctx', org_id: 'org_clinic', session_id, ctx_id: accepted.ctx_id, enqueued_at: expect.any(String) }]);
    expect(await taskItems.get('org_clinic', session_id, accepted.ctx_id)).toMatchObject({
      task: 'Summarize',
      system_prompt: 'Be brief.',
      request_history: [{ role: 'user', content: 'hi' }],
      user_id: 'user_alice',
    });
    await expect(tasks.get(alice, session_id, accepted.ctx_id)).resolves.toMatchObject({ status: 'pending', result: null, error: null });
    expect(await failure(tasks.get(bob, session_id, accepted.ctx_id))).toMatchObject({ kind: 'not_found', message: 'Context task not found.' });
  });

  it('removes a task that cannot be queued', async () => {
    const { sessions, tasks, taskItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    queue.down = true;
    expect(await failure(tasks.create(alice, session_id, { task: 'x' }))).toMatchObject({ code: 'queue_unavailable' });
    expect(taskItems.items.size).toBe(0);
  });

  it('accepts a task whose failed send reached the queue and was claimed; withdraws one not claimed', async () => {
    const { sessions, tasks, taskItems, queue } = world();
    const { session_id } = await sessions.create(alice, {});
    queue.lostAnswer = async (job) => {
      Object.assign(taskItems.items.get(`org_clinic/${session_id}/${job.kind === 'ctx' ? job.ctx_id : ''}`)!, { status: 'processing', attempts: 1 });
    };
    const accepted = await tasks.create(alice, session_id, { task: 'claimed' });
    await expect(tasks.get(alice, session_id, accepted.ctx_id)).resolves.toMatchObject({ status: 'processing' });
    queue.lostAnswer = async () => undefined;
    expect(await failure(tasks.create(alice, session_id, { task: 'unclaimed' }))).toMatchObject({ code: 'queue_unavailable' });
    expect([...taskItems.items.values()].map((item) => item.task)).toEqual(['claimed']);
  });

  it('fails a task read past the deadline', async () => {
    const { sessions, tasks, taskItems } = world();
    const { session_id } = await sessions.create(alice, {});
    const { ctx_id } = await tasks.create(alice, session_id, { task: 'x' });
    taskItems.items.get(`org_clinic/${session_id}/${ctx_id}`)!.created_at = new Date(Date.now() - 11 * 60_000).toISOString();
    const read = await withEnv({ JOB_DEADLINE_MINUTES: '10' }, () => tasks.get(alice, session_id, ctx_id));
    expect(read).toMatchObject({ status: 'error', result: null, error: 'No answer came within 10 minutes, so this request was given up. Send it again.' });
  });
});
