/**
 * Property-based: generated requests to every route (bodies, query strings, path ids and headers,
 * valid and not), over HTTP to the local API. Whatever comes in, the API answers below 500, in the
 * document's shape (the client checks every answer against docs/openapi.json), and its state stays
 * consistent: a session's message_count is the number of its messages, and nothing of a deleted
 * session is readable.
 */
import fc from 'fast-check';
import { ROUTES } from '../../shared/contract/routes.js';
import { newId } from '../../shared/platform/ids.js';
import { client, startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let caller: ReturnType<typeof client>;
let sessionId: string;

beforeAll(async () => {
  api = await startTestApi({ workers: false, env: { ORG_RATE_LIMIT_PER_MINUTE: '1000000' } });
  caller = client(api.url, await api.token({ org: 'org_props', user: 'user_props' }));
  sessionId = (await caller.post('/openai/sessions', { name: 'properties' })).body.session_id;
}, 30_000);
afterAll(async () => api?.close());

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant(''), fc.constant('\u0000'));
const value = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(text, { maxLength: 3 }));
/** Bodies near the routes' own (their fields with odd values) and far from them (any JSON, or not JSON). */
const body = fc.oneof(
  fc.record(
    {
      name: value,
      system_prompt: value,
      end: value,
      message: value,
      content: value,
      role: fc.oneof(fc.constantFrom('user', 'assistant', 'system'), value),
      task: value,
      model: value,
      history: fc.oneof(value, fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'x'), content: value }), { maxLength: 3 })),
    },
    { requiredKeys: [] },
  ),
  fc.json().map((json) => ({ raw: json })),
  text.map((raw) => ({ raw })),
);
const pathId = fc.oneof(fc.constant('SESSION'), fc.constant('NEW_ID'), fc.string({ maxLength: 30 }), fc.constant('..'), fc.constant('%2F'));
const query = fc.dictionary(fc.constantFrom('limit', 'after', 'order', 'include_last', 'x'), fc.oneof(text, fc.integer({ min: -5, max: 2000 }).map(String)), { maxKeys: 3 });

describe.each(ROUTES.filter((route) => route.path !== '$default').map((route) => [route.name, route] as const))('%s', (_name, route) => {
  it('answers any request below 500, in the document’s shape', async () => {
    await fc.assert(
      fc.asyncProperty(pathId, pathId, body, query, fc.option(text), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=latin1'), async (first, second, payload, params, key, type) => {
        // A session of the caller's own, new each run (a generated DELETE must not empty the next runs).
        const own = first === 'SESSION' || second === 'SESSION' ? (await caller.post('/openai/sessions', {})).body.session_id : sessionId;
        const id = (value: string) => encodeURIComponent(value === 'SESSION' ? own : value === 'NEW_ID' ? newId() : value);
        let index = 0;
        const path = route.path.replace(/\{\w+\}/g, () => id(index++ === 0 ? first : second));
        const search = new URLSearchParams(params).toString();
        const headers: Record<string, string> = { 'content-type': type };
        if (key !== null && /^[\x21-\x7e]*$/.test(key)) headers['idempotency-key'] = key;
        const sent = route.method === 'GET' || route.method === 'DELETE' ? undefined : 'raw' in payload ? String(payload.raw) : payload;
        const answer = await caller.call(route.method, `${path}${search ? `?${search}` : ''}`, sent, headers);
        expect(answer.status).toBeLessThan(500);
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});

it('keeps message_count equal to the messages listed, and nothing readable after a delete', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom('ask', 'add', 'remove'), { minLength: 1, maxLength: 8 }), async (steps) => {
      const session = (await caller.post('/openai/sessions', {})).body.session_id as string;
      const ids: string[] = [];
      for (const step of steps) {
        if (step === 'ask') ids.push((await caller.post(`/openai/sessions/${session}/ask`, { message: 'q' })).body.user_message_id);
        else if (step === 'add') ids.push((await caller.post(`/openai/sessions/${session}/messages`, { role: 'user', content: 'm' })).body.message_id);
        else if (ids.length) await caller.delete(`/openai/sessions/${session}/messages/${ids.pop()}`);
      }
      const listed = (await caller.get(`/openai/sessions/${session}/messages?limit=100`)).body.items.length;
      expect((await caller.get(`/openai/sessions/${session}`)).body.message_count).toBe(listed);
      expect((await caller.delete(`/openai/sessions/${session}`)).status).toBe(200);
      expect((await caller.get(`/openai/sessions/${session}`)).status).toBe(404);
      for (const id of ids) expect((await caller.get(`/openai/sessions/${session}/messages/${id}`)).status).toBe(404);
    }),
    { numRuns: 15 },
  );
}, 60_000);
