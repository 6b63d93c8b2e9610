import { client, startTestApi, type TestApi } from '../helpers/local-api.js';
import { mintToken, makeKeys } from '../../bin/local/tokens.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => api?.close());

const as = async (options: Parameters<TestApi['token']>[0] = {}) => client(api.url, await api.token(options));
const errorBody = (code: string) => ({ error: expect.stringMatching(/\S.*[.?]$/), code });

describe('sessions over HTTP', () => {
  it('creates, reads, renames, ends and deletes a session as the contract says', async () => {
    const alice = await as({ user: 'user_alice', org: 'org_clinic' });
    const created = await alice.post('/openai/sessions', {
      name: 'Patient Consultation - John Doe',
      system_prompt: 'You are Dr. AI, a medical assistant.',
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toMatch(/^application\/json/);
    expect(created.body).toEqual({
      session_id: expect.any(String),
      name: 'Patient Consultation - John Doe',
      system_prompt: 'You are Dr. AI, a medical assistant.',
      session_start: expect.any(String),
      session_end: null,
      user_id: 'user_alice',
      org_id: 'org_clinic',
      message_count: 0,
    });
    const id = created.body.session_id;

    expect(await alice.get(`/openai/sessions/${id}`)).toMatchObject({ status: 200, body: created.body });

    const renamed = await alice.patch(`/openai/sessions/${id}`, { name: 'Updated Session Name' });
    expect(renamed).toMatchObject({ status: 200, body: { ...created.body, name: 'Updated Session Name' } });

    const ended = await alice.patch(`/openai/sessions/${id}`, { end: true });
    expect(ended.status).toBe(200);
    expect(new Date(ended.body.session_end).getTime()).toBeGreaterThanOrEqual(new Date(created.body.session_start).getTime());

    expect(await alice.delete(`/openai/sessions/${id}`)).toMatchObject({ status: 200, body: { deleted: true, session_id: id } });
    expect(await alice.get(`/openai/sessions/${id}`)).toMatchObject({ status: 404, body: errorBody('not_found') });
    expect(await alice.delete(`/openai/sessions/${id}`)).toMatchObject({ status: 404 });
  });

  it('creates a session from an empty POST', async () => {
    const alice = await as({ user: 'user_empty' });
    const created = await alice.call('POST', '/openai/sessions');
    expect(created).toMatchObject({ status: 201, body: { name: 'New session', system_prompt: null } });
  });

  it('pages through the list newest first without gaps or repeats', async () => {
    const pager = await as({ user: 'user_pager', org: 'org_paging' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await pager.post('/openai/sessions', { name: `n${i}` })).body.session_id);
    const seen: string[] = [];
    let url = '/openai/sessions?limit=2';
    for (;;) {
      const page = await pager.get(url);
      expect(page.status).toBe(200);
      expect(Object.keys(page.body).sort()).toEqual(['has_more', 'items', 'next']);
      seen.push(...page.body.items.map((session: { session_id: string }) => session.session_id));
      if (!page.body.has_more) {
        expect(page.body.next).toBeNull();
        break;
      }
      url = `/openai/sessions?limit=2&after=${page.body.next}`;
    }
    expect(seen).toEqual(ids.reverse());

    const big = await pager.get('/openai/sessions?limit=1000&include_last=true');
    expect(big.status).toBe(200);
    expect(big.body.items).toHaveLength(5);
    expect(big.body.items.every((session: { last_message: unknown }) => session.last_message === null)).toBe(true);
  });

  it('keeps orgs and users apart, and lets an org admin read but not change', async () => {
    const owner = await as({ user: 'user_owner', org: 'org_alpha' });
    const colleague = await as({ user: 'user_colleague', org: 'org_alpha' });
    const adminV2 = await as({ user: 'user_boss', org: 'org_alpha', role: 'admin' });
    const adminV1 = await as({ user: 'user_boss1', org: 'org_alpha', role: 'org:admin', version: 1 });
    const stranger = await as({ user: 'user_owner', org: 'org_beta', role: 'admin' });
    const { session_id } = (await owner.post('/openai/sessions', { name: 'secret' })).body;
    const path = `/openai/sessions/${session_id}`;

    for (const other of [colleague, stranger]) {
      expect(await other.get(path)).toMatchObject({ status: 404, body: errorBody('not_found') });
      expect(await other.patch(path, { name: 'taken' })).toMatchObject({ status: 404, body: errorBody('not_found') });
      expect(await other.delete(path)).toMatchObject({ status: 404, body: errorBody('not_found') });
      const listed = await other.get('/openai/sessions?limit=1000');
      expect(listed.body.items.map((session: { session_id: string }) => session.session_id)).not.toContain(session_id);
    }
    for (const admin of [adminV2, adminV1]) {
      expect(await admin.get(path)).toMatchObject({ status: 200, body: { name: 'secret', user_id: 'user_owner' } });
      expect(await admin.patch(path, { end: true })).toMatchObject({ status: 403, body: errorBody('not_session_owner') });
      expect(await admin.delete(path)).toMatchObject({ status: 403 });
    }
    expect(await owner.get(path)).toMatchObject({ status: 200, body: { name: 'secret', session_end: null } });
  });

  it('answers 404 for ids that are not ours and for routes that do not exist', async () => {
    const alice = await as();
    expect(await alice.get('/openai/sessions/not-an-id')).toMatchObject({ status: 404, body: errorBody('not_found') });
    expect(await alice.get('/openai/sessions/01M7XMMNFXWRHRCJV25Q99TNWS')).toMatchObject({ status: 404 });
    expect(await alice.get('/openai/nothing')).toMatchObject({ status: 404, body: errorBody('route_not_found') });
    expect(await alice.call('PUT', '/openai/sessions')).toMatchObject({ status: 404, body: errorBody('route_not_found') });
  });
});

describe('authentication over HTTP', () => {
  it('answers 401 with the error body for a missing, expired or foreign token, and says nothing more', async () => {
    const answers = [
      await client(api.url).get('/openai/sessions'),
      await client(api.url, 'garbage').get('/openai/sessions'),
      await client(api.url, await api.token({ expiresIn: -120 })).get('/openai/sessions'),
      await client(api.url, await mintToken(makeKeys())).post('/openai/sessions', { name: 'x' }),
    ];
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 401, body: { error: 'A valid bearer token is required.', code: 'unauthorized' } });
      expect(answer.headers.get('x-request-id')).toBeTruthy();
    }
  });

  it('answers 403 for a token with no active organization', async () => {
    const noOrg = client(api.url, await api.token({ org: null }));
    expect(await noOrg.get('/openai/sessions')).toMatchObject({ status: 403, body: errorBody('no_active_organization') });
  });

  it('checks the token before looking at the body', async () => {
    expect(await client(api.url).call('POST', '/openai/sessions', '{oops')).toMatchObject({ status: 401 });
  });
});

describe('bad input over HTTP', () => {
  it.each([
    ['malformed JSON', '{"name": "a",', 400, 'invalid_json'],
    ['a JSON array', '[1,2]', 400, 'invalid_request'],
    ['a JSON string', '"hello"', 400, 'invalid_request'],
    ['a wrong type', { name: 7 }, 400, 'invalid_request'],
    ['an unknown field', { name: 'a', temperature: 2 }, 400, 'invalid_request'],
    ['a null name', { name: null }, 400, 'invalid_request'],
    ['an over-long prompt', { system_prompt: 'x'.repeat(100_001) }, 400, 'invalid_request'],
  ])('%s is a 400 naming what is wrong', async (_case, body, status, code) => {
    const answer = await (await as()).post('/openai/sessions', body);
    expect(answer).toMatchObject({ status, body: errorBody(code) });
  });

  it('names the field in the sentence', async () => {
    const answer = await (await as()).post('/openai/sessions', { name: 'ok', system_prompt: 12 });
    expect(answer.body.error).toBe('Field "system_prompt" must be a string, not a number.');
    const unknown = await (await as()).post('/openai/sessions', { nmae: 'typo' });
    expect(unknown.body.error).toBe('Unknown field "nmae".');
  });

  it('refuses a body over 256 KB with 413, and a non-JSON body with 415', async () => {
    const alice = await as();
    const huge = await alice.post('/openai/sessions', { name: 'big', system_prompt: 'x'.repeat(300 * 1024) });
    expect(huge).toMatchObject({ status: 413, body: errorBody('body_too_large') });
    expect(huge.body.error).toContain('256 KB');
    const text = await alice.call('POST', '/openai/sessions', 'name=x', { 'content-type': 'text/plain' });
    expect(text).toMatchObject({ status: 415, body: errorBody('unsupported_media_type') });
  });

  it('refuses bad PATCHes', async () => {
    const alice = await as();
    const { session_id } = (await alice.post('/openai/sessions', {})).body;
    const path = `/openai/sessions/${session_id}`;
    expect(await alice.patch(path, {})).toMatchObject({ status: 400, body: { error: 'Give at least one of name, system_prompt or end.' } });
    expect(await alice.patch(path, { end: false })).toMatchObject({ status: 400 });
    expect(await alice.patch(path, { end: 'yes' })).toMatchObject({ status: 400 });
    expect(await alice.call('PATCH', path)).toMatchObject({ status: 400 });
  });

  it.each([
    ['limit=0'], ['limit=1001'], ['limit=ten'], ['limit=-1'], ['after=zzz'], ['include_last=maybe'],
  ])('refuses the list query %s', async (queryString) => {
    expect(await (await as()).get(`/openai/sessions?${queryString}`)).toMatchObject({ status: 400, body: errorBody('invalid_request') });
  });

  it('keeps unicode exactly, both ways', async () => {
    const alice = await as({ user: 'user_unicode' });
    const name = 'Ünïcödé 🧪 — مرحبا — 日本語 — e\u0301 — \u{1F468}\u200D\u{1F469}\u200D\u{1F467}';
    const system_prompt = 'Tab\tnew\nline "quotes" \\ back \u2028 sep \u0000 nul';
    const created = await alice.post('/openai/sessions', { name, system_prompt });
    expect(created.status).toBe(201);
    const read = await alice.get(`/openai/sessions/${created.body.session_id}`);
    expect(read.body.name).toBe(name);
    expect(read.body.system_prompt).toBe(system_prompt);
  });
});
