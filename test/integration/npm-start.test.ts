import type { ChildProcess } from 'node:child_process';
import { client } from '../helpers/local-api.js';
import { npmStart } from '../helpers/npm-start.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';

/**
 * What a client team does on a laptop: mint its own RS256 keys, start `npm start` with
 * CLERK_JWT_KEY and CLERK_AUTHORIZED_PARTIES, call the sessions routes, stop it with Ctrl-C.
 */
describe('npm start', () => {
  const keys = makeKeys();
  const party = 'https://doctor.example';
  let child: ChildProcess;
  let output: () => string = () => '';
  let url: string;
  let stub: StubOpenAI;

  beforeAll(async () => {
    stub = await startStubOpenAI();
    const started = await npmStart(['--port', '0', '--in-memory'], {
      CLERK_JWT_KEY: keys.publicKeyPem,
      CLERK_AUTHORIZED_PARTIES: `https://other.example,${party}`,
      // The integration guide's own variables, with an OpenAI-compatible server.
      org_medical_clinic_OPENAI_API_KEY: 'sk-medical',
      org_medical_clinic_OPENAI_BASE_URL: stub.url,
      org_medical_clinic_OPENAI_MODEL: 'gpt-4o-mini',
    });
    child = started.child;
    url = started.url;
    output = started.output;
  }, 40_000);

  afterAll(async () => {
    await stub.close();
    process.kill(-child.pid!, 'SIGKILL');
  });

  it('uses the given key only, and says nothing of a development key', () => {
    expect(output()).not.toMatch(/DEVELOPMENT key/);
  });

  it('serves the sessions routes to a token signed with the client’s own key', async () => {
    const doctor = client(url, await mintToken(keys, { org: 'org_medical_clinic', user: 'user_doc', azp: party }));
    const created = await doctor.post('/openai/sessions', { name: 'Consultation - John Doe', system_prompt: 'You are Dr. AI' });
    expect(created).toMatchObject({ status: 201, body: { name: 'Consultation - John Doe', org_id: 'org_medical_clinic' } });
    expect(await doctor.get(`/openai/sessions/${created.body.session_id}`)).toMatchObject({ status: 200 });
    expect(await doctor.get('/openai/sessions?limit=50&include_last=false')).toMatchObject({ status: 200, body: { has_more: false } });
    expect(await doctor.patch(`/openai/sessions/${created.body.session_id}`, { end: true })).toMatchObject({ status: 200 });
    expect(await doctor.post('/openai/sessions', '{bad')).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
  });

  it("answers an ask through the queue and the worker, with the organization's key, base URL and model", async () => {
    const doctor = client(url, await mintToken(keys, { org: 'org_medical_clinic', user: 'user_doc', azp: party }));
    const sessionId = (await doctor.post('/openai/sessions', { name: 'Ask' })).body.session_id;
    const asked = await doctor.post(`/openai/sessions/${sessionId}/ask`, { message: 'Hello', history: [] });
    expect(asked.status).toBe(202);
    let answer: any;
    for (let i = 0; i < 200; i++) {
      answer = (await doctor.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).body;
      if (answer.status === 'COMPLETED' || answer.status === 'FAILED') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(answer).toMatchObject({ status: 'COMPLETED', model: 'gpt-4o-mini', content: 'Answer to "Hello" (1 messages)' });
    expect(stub.completions()[0]!.apiKey).toBe('sk-medical');
  });

  it('refuses a token for another party, another key or no organization', async () => {
    const wrongParty = client(url, await mintToken(keys, { azp: 'https://evil.example' }));
    const otherKey = client(url, await mintToken(makeKeys(), { azp: party }));
    const noOrg = client(url, await mintToken(keys, { org: null, azp: party }));
    expect(await wrongParty.get('/openai/sessions')).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await otherKey.get('/openai/sessions')).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await noOrg.get('/openai/sessions')).toMatchObject({ status: 403, body: { code: 'no_active_organization' } });
  });

});

describe('npm start, stopped with Ctrl-C', () => {
  it('logs one line per request and stops cleanly', async () => {
    const keys = makeKeys();
    const { child, url, output } = await npmStart(['--port', '0', '--in-memory'], { CLERK_JWT_KEY: keys.publicKeyPem });
    try {
      const doctor = client(url, await mintToken(keys, { org: 'org_medical_clinic', user: 'user_doc' }));
      expect((await doctor.post('/openai/sessions', { name: 'Logged' })).status).toBe(201);
      expect((await client(url, 'not-a-token').get('/openai/sessions')).status).toBe(401);
      // The line is written when the answer has gone, and reaches this process through a pipe.
      for (let i = 0; i < 100 && !/GET \/openai\/sessions 401 \d+ms/.test(output()); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(output()).toMatch(/POST \/openai\/sessions 201 \d+ms/);
      expect(output()).toMatch(/GET \/openai\/sessions 401 \d+ms/);
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      process.kill(-child.pid!, 'SIGINT');
      // npm re-raises the signal it got; the server below it stops on its own and exits 0.
      const { code, signal } = await exited;
      expect(code === 0 || signal === 'SIGINT').toBe(true);
      expect(output()).toMatch(/SIGINT: stopping/);
      expect(output()).not.toMatch(/Error|ERR!/);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone, as it should be
      }
    }
  }, 40_000);
});

describe('npm start -- --mock-model, as the README’s first section', () => {
  it('serves the playground and answers an organization without a key, streamed word by word', async () => {
    const { child, url, output } = await npmStart(['--port', '0', '--in-memory', '--mock-model'], { CLERK_JWT_KEY: '', CLERK_SECRET_KEY: '', LOCAL_MOCK_TOKEN_MS: '5' });
    try {
      expect(output()).toContain(`Playground on ${url}/`);
      expect(output()).toMatch(/Mock model on/);
      expect(await (await fetch(`${url}/`)).text()).toMatch(/<title>[^<]*playground/i);
      // What the page does to sign in, then to ask.
      const { token } = (await (await fetch(`${url}/playground/token`, { method: 'POST', body: JSON.stringify({ org: 'org_stranger', user: 'user_stranger' }) })).json()) as { token: string };
      const stranger = client(url, token);
      const sessionId = (await stranger.post('/openai/sessions', { name: 'First try' })).body.session_id;
      const asked = await stranger.post(`/openai/sessions/${sessionId}/ask`, { message: 'Hello there [gap:50]' });
      const stream = await fetch(`${url}/openai/sessions/${sessionId}/messages/${asked.body.message_id}/stream`, { headers: { authorization: `Bearer ${token}` } });
      const text = await stream.text();
      // Progress is written at once, then every second: a 3 s answer arrives in several deltas.
      expect(text.match(/^event: delta$/gm)!.length).toBeGreaterThan(2);
      expect(text).toMatch(/^event: done$/m);
      expect((await stranger.get(`/openai/sessions/${sessionId}/messages/${asked.body.message_id}`)).body).toMatchObject({ status: 'COMPLETED', model: 'mock', content: expect.stringMatching(/^You said: "Hello there"/) });
    } finally {
      process.kill(-child.pid!, 'SIGKILL');
    }
  }, 40_000);
});
