/** The task repository against dynalite and DynamoDB Local. */
import { newId } from '../../shared/platform/ids.js';
import type { Db } from '../../shared/store/client.js';
import { dynamoTaskRepository, toTask, type TaskRepository } from '../../shared/tasks/repository.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';

const ORG = 'org_clinic';

describe.each(BACKENDS)('task repository on %s', (_name, start) => {
  let db: Db;
  let tasks: TaskRepository;
  withFreshTable(start, (table) => {
    db = table;
    tasks = dynamoTaskRepository(db);
  });

  it('stores a task under its org and session, shows it as the API does, fails it once, deletes it', async () => {
    const sessionId = newId();
    const stored = await tasks.put(ORG, {
      ctx_id: newId(),
      session_id: sessionId,
      user_id: 'user_alice',
      status: 'pending',
      task: 'Summarize',
      created_at: new Date().toISOString(),
      request_history: [{ role: 'user', content: 'hi' }],
    });
    expect(stored).toMatchObject({ pk: `ORG#${ORG}#SESSION#${sessionId}`, sk: `CTX#${stored.ctx_id}`, entity: 'task' });
    await expect(tasks.get('org_other', sessionId, stored.ctx_id)).resolves.toBeUndefined();
    expect(toTask((await tasks.get(ORG, sessionId, stored.ctx_id))!)).toEqual({
      ctx_id: stored.ctx_id,
      session_id: sessionId,
      status: 'pending',
      result: null,
      error: null,
      created_at: stored.created_at,
    });
    await expect(tasks.failUnfinished(stored, { error: 'gave up', result: null })).resolves.toMatchObject({ status: 'error', error: 'gave up' });
    await expect(tasks.failUnfinished(stored, { error: 'again', result: null })).resolves.toBeUndefined();
    await tasks.delete(ORG, sessionId, stored.ctx_id);
    await expect(tasks.get(ORG, sessionId, stored.ctx_id)).resolves.toBeUndefined();
  });

  it('withdraws a pending task no worker has claimed, and not one that was claimed', async () => {
    const sessionId = newId();
    const task = (fields: Record<string, unknown>) =>
      tasks.put(ORG, { ctx_id: newId(), session_id: sessionId, user_id: 'user_alice', status: 'pending', task: 't', created_at: new Date().toISOString(), ...fields });
    const unclaimed = await task({});
    const claimed = await task({ status: 'processing', attempts: 1 });
    await expect(tasks.withdrawUnclaimed(ORG, sessionId, unclaimed.ctx_id)).resolves.toBe(true);
    await expect(tasks.get(ORG, sessionId, unclaimed.ctx_id)).resolves.toBeUndefined();
    await expect(tasks.withdrawUnclaimed(ORG, sessionId, claimed.ctx_id)).resolves.toBe(false);
    await expect(tasks.get(ORG, sessionId, claimed.ctx_id)).resolves.toMatchObject({ status: 'processing' });
  });
});
