/**
 * Idempotency keys (`beginIdempotent`, `finishIdempotent`, `abandonIdempotent`) on dynalite and
 * DynamoDB Local. Time is driven by the `nowMs` parameter.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from '../../shared/auth/principal.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent, type IdempotentRequest } from '../../shared/idempotency/records.js';
import type { Db } from '../../shared/store/client.js';
import { BACKENDS, withFreshTable } from '../helpers/dynamo-backends.js';
import { appErrorOf as failure } from '../helpers/assertions.js';

const alice: Principal = { orgId: 'org_clinic', userId: 'user_alice', role: 'org:member' };
const bob: Principal = { orgId: 'org_clinic', userId: 'user_bob', role: 'org:member' };
/** Same user id as Alice, in another org. */
const aliceElsewhere: Principal = { orgId: 'org_lawfirm', userId: 'user_alice', role: 'org:member' };

const ask = { method: 'POST', path: '/sessions/01J0000000000000000000000A/messages', body: { content: 'What is the dose?' } };
const answer = {
  status: 202,
  body: {
    message_id: '01J0000000000000000000000B',
    status: 'PENDING',
    content: 'Résumé — 🩺 ok',
    usage: { prompt_tokens: 12, completion_tokens: 0.5, total_tokens: 12.5 },
    tags: [],
    error: null,
    nested: { deep: [1, 'two', { three: true }] },
  },
};

/** The handle of a begin that must have started. */
function started(result: Awaited<ReturnType<typeof beginIdempotent>>): IdempotentRequest {
  if (!('started' in result)) throw new Error(`expected a started request, got ${JSON.stringify(result)}`);
  return result.started;
}

describe.each(BACKENDS)('idempotency keys on %s', (_name, start) => {
  let db: Db;
  withFreshTable(start, (table) => (db = table));

  it('starts a new key, and never stores the client’s key itself', async () => {
    const result = await beginIdempotent(db, alice, 'key-1', ask);
    const handle = started(result);
    expect(handle.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(handle.key.pk).toContain('ORG#org_clinic#USER#user_alice#');
    expect(handle.key.pk).not.toContain('key-1');
    const { Item } = await db.doc.send(new GetCommand({ TableName: db.table, Key: handle.key, ConsistentRead: true }));
    expect(Item).toMatchObject({ state: 'IN_PROGRESS', entity: 'idempotency' });
  });

  it('answers 409 idempotency_in_progress to a retry while the first request is still running', async () => {
    started(await beginIdempotent(db, alice, 'key-1', ask));
    const refused = await failure(beginIdempotent(db, alice, 'key-1', ask));
    expect(refused).toMatchObject({ kind: 'conflict', code: 'idempotency_in_progress' });
    expect(refused.message).toMatch(/still being handled/);
  });

  it('replays the stored response exactly, as often as asked', async () => {
    const handle = started(await beginIdempotent(db, alice, 'key-1', ask));
    await finishIdempotent(db, handle, answer);
    for (let i = 0; i < 2; i++) {
      await expect(beginIdempotent(db, alice, 'key-1', { ...ask, body: { content: 'What is the dose?' } })).resolves.toEqual({
        replay: answer,
      });
    }
  });

  it('answers 422 idempotency_key_reused when the key comes back with another body, path or method', async () => {
    const handle = started(await beginIdempotent(db, alice, 'key-1', ask));
    // While in progress...
    const whileRunning = await failure(beginIdempotent(db, alice, 'key-1', { ...ask, body: { content: 'Another question' } }));
    expect(whileRunning).toMatchObject({ kind: 'idempotency_mismatch', code: 'idempotency_key_reused' });
    expect(whileRunning.message).toMatch(/different request/);
    await finishIdempotent(db, handle, answer);
    // ...and once finished.
    for (const other of [
      { ...ask, body: { content: 'Another question' } },
      { ...ask, body: undefined },
      { ...ask, path: '/sessions/01J0000000000000000000000C/messages' },
      { ...ask, method: 'PATCH' },
    ]) {
      expect(await failure(beginIdempotent(db, alice, 'key-1', other))).toMatchObject({
        kind: 'idempotency_mismatch',
        code: 'idempotency_key_reused',
      });
    }
    // The mismatch changed nothing: the first request still replays.
    await expect(beginIdempotent(db, alice, 'key-1', ask)).resolves.toEqual({ replay: answer });
  });

  it('compares requests, not bytes: the same body with its fields in another order is the same request', async () => {
    const body = { message: 'Dose?', history: [{ role: 'user', content: 'hi' }], model: 'gpt-4o' };
    const handle = started(await beginIdempotent(db, alice, 'key-order', { ...ask, body }));
    await finishIdempotent(db, handle, answer);
    const reordered = { model: 'gpt-4o', history: [{ content: 'hi', role: 'user' }], message: 'Dose?' };
    await expect(beginIdempotent(db, alice, 'key-order', { ...ask, body: reordered })).resolves.toEqual({ replay: answer });
    // An array's order is part of the request.
    const otherHistory = { ...body, history: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] };
    expect(await failure(beginIdempotent(db, alice, 'key-order', { ...ask, body: otherHistory }))).toMatchObject({ code: 'idempotency_key_reused' });
  });

  it('scopes keys to the org and the user', async () => {
    const handle = started(await beginIdempotent(db, alice, 'shared-key', ask));
    await finishIdempotent(db, handle, answer);
    // Another member of the same org, and the same user id in another org, start afresh (even with another body).
    const forBob = started(await beginIdempotent(db, bob, 'shared-key', ask));
    const elsewhere = started(await beginIdempotent(db, aliceElsewhere, 'shared-key', { ...ask, body: { content: 'x' } }));
    expect(new Set([handle.key.pk, forBob.key.pk, elsewhere.key.pk]).size).toBe(3);
    await finishIdempotent(db, forBob, { status: 201, body: { for: 'bob' } });
    await expect(beginIdempotent(db, bob, 'shared-key', ask)).resolves.toEqual({ replay: { status: 201, body: { for: 'bob' } } });
    await expect(beginIdempotent(db, alice, 'shared-key', ask)).resolves.toEqual({ replay: answer });
    expect(await failure(beginIdempotent(db, aliceElsewhere, 'shared-key', { ...ask, body: { content: 'x' } }))).toMatchObject({
      kind: 'conflict',
    });
  });

  it('forgets an abandoned request so that its retry runs again, but never a finished one', async () => {
    const first = started(await beginIdempotent(db, alice, 'key-1', ask));
    await abandonIdempotent(db, first);
    const retry = started(await beginIdempotent(db, alice, 'key-1', ask));
    // An abandoned key is free for any request, even another one.
    await abandonIdempotent(db, retry);
    const other = started(await beginIdempotent(db, alice, 'key-1', { ...ask, body: { content: 'other' } }));
    await finishIdempotent(db, other, answer);
    // Abandoning after the finish (or twice) does nothing and does not throw.
    await abandonIdempotent(db, other);
    await abandonIdempotent(db, first);
    await expect(beginIdempotent(db, alice, 'key-1', { ...ask, body: { content: 'other' } })).resolves.toEqual({ replay: answer });
  });

  it('lets a retry take over a request left in progress for more than 60 seconds', async () => {
    const t0 = Date.now();
    started(await beginIdempotent(db, alice, 'key-1', ask, t0));
    expect(await failure(beginIdempotent(db, alice, 'key-1', ask, t0 + 59_000))).toMatchObject({ kind: 'conflict' });
    expect(await failure(beginIdempotent(db, alice, 'key-1', ask, t0 + 60_000))).toMatchObject({ kind: 'conflict' });
    const takeover = started(await beginIdempotent(db, alice, 'key-1', ask, t0 + 61_000));
    // The new holder has a fresh 60 seconds.
    expect(await failure(beginIdempotent(db, alice, 'key-1', ask, t0 + 100_000))).toMatchObject({ kind: 'conflict' });
    await finishIdempotent(db, takeover, answer);
    // A finished response never goes stale that way.
    await expect(beginIdempotent(db, alice, 'key-1', ask, t0 + 3_600_000)).resolves.toEqual({ replay: answer });
  });

  it('starts afresh once a record is past its 24-hour life, whatever the TTL sweeper has done', async () => {
    const t0 = Date.now();
    const handle = started(await beginIdempotent(db, alice, 'key-1', ask, t0));
    await finishIdempotent(db, handle, answer);
    await expect(beginIdempotent(db, alice, 'key-1', ask, t0 + 23 * 3_600_000)).resolves.toEqual({ replay: answer });
    started(await beginIdempotent(db, alice, 'key-1', { ...ask, body: { content: 'new' } }, t0 + 24 * 3_600_000 + 2_000));
  });

  it('refuses keys that are empty, too long, spaced or not ASCII; accepts 255 printable characters', async () => {
    for (const bad of ['', 'a'.repeat(256), 'has space', 'tab\there', 'clé', 'emoji🙂', 'line\nbreak']) {
      const refused = await failure(beginIdempotent(db, alice, bad, ask));
      expect(refused).toMatchObject({ kind: 'invalid' });
      expect(refused.message).toMatch(/Idempotency-Key/);
    }
    started(await beginIdempotent(db, alice, 'a'.repeat(255), ask));
    started(await beginIdempotent(db, alice, '!~#{}"\'<>$%^&*()', ask));
  });

  it('lets exactly one of many concurrent first requests start; the rest get 409', async () => {
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => beginIdempotent(db, alice, 'race', ask)));
    const winners = results.filter((result) => result.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    expect(winners[0]!.status === 'fulfilled' && 'started' in winners[0]!.value).toBe(true);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ kind: 'conflict', code: 'idempotency_in_progress' });
    }
    // Once finished, concurrent retries all replay.
    await finishIdempotent(db, (winners[0] as PromiseFulfilledResult<{ started: IdempotentRequest }>).value.started, answer);
    const replays = await Promise.all(Array.from({ length: 8 }, () => beginIdempotent(db, alice, 'race', ask)));
    expect(replays).toEqual(Array.from({ length: 8 }, () => ({ replay: answer })));
  });

  it('lets exactly one of many concurrent takeovers of a stale request start', async () => {
    const t0 = Date.now();
    started(await beginIdempotent(db, alice, 'stale', ask, t0));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => beginIdempotent(db, alice, 'stale', ask, t0 + 90_000)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ kind: 'conflict' });
    }
  });
});
