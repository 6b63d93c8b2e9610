/**
 * `npm start` runs many functions in one thread (the API's in the main thread, the workers in
 * another), as Lambda Managed Instances run concurrent invocations of one function: each
 * invocation's log lines must carry its own function name and request id, even while another
 * function's invocation runs and logs at the same time. And no line holds message content,
 * whatever path the content took.
 */
import { client, settledMessage } from '../helpers/local-api.js';
import { npmStart, type NpmStart } from '../helpers/npm-start.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';

const ORG = 'org_log_lines';
const keys = makeKeys();
let server: NpmStart;
let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
  server = await npmStart(['--port', '0', '--in-memory'], {
    CLERK_JWT_KEY: keys.publicKeyPem,
    POWERTOOLS_LOG_LEVEL: 'INFO', // as deployed
    [`${ORG}_OPENAI_API_KEY`]: 'sk-log-lines',
    [`${ORG}_OPENAI_BASE_URL`]: stub.url,
    [`${ORG}_OPENAI_MODEL`]: 'gpt-4o-mini',
  });
}, 40_000);

afterEach(() => stub.reset());
afterAll(async () => {
  try {
    process.kill(-server.child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
  await stub?.close();
});

/** The Powertools JSON lines the server printed. */
function logLines(): Record<string, unknown>[] {
  return server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it("keeps each invocation's function name and request id on its own lines while another function logs", async () => {
  const doctor = client(server.url, await mintToken(keys, { org: ORG }));
  const sessionId = (await doctor.post('/openai/sessions', { name: 'Logs' })).body.session_id;

  // The model holds the worker's invocation open while an API invocation runs and logs.
  stub.fail({ fault: { kind: 'status', status: 400, message: 'Bad request.' } });
  stub.latency(1500);
  const failedBefore = logLines().filter((line) => line.message === 'model call failed').length;
  const asked = await doctor.post(`/openai/sessions/${sessionId}/ask`, { message: 'Hello', history: [] });
  for (let i = 0; i < 500 && stub.requests.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(stub.requests).toHaveLength(1);
  // A token signed with another key passes the front's check and is refused by the function, which logs it.
  expect((await client(server.url, await mintToken(makeKeys(), { org: ORG })).get('/openai/sessions')).status).toBe(401);
  expect(logLines().filter((line) => line.message === 'model call failed')).toHaveLength(failedBefore); // the worker has not logged yet

  expect(await settledMessage(doctor, sessionId, asked.body.message_id)).toMatchObject({ status: 'FAILED' });
  const apiLine = logLines().findLast((line) => line.message === 'token rejected');
  const workerLine = logLines().findLast((line) => line.message === 'model call failed');
  expect(apiLine).toMatchObject({ function_name: 'ListSessions' });
  expect(workerLine).toMatchObject({ function_name: 'AskWorker' });
  expect(workerLine!.function_request_id).not.toBe(apiLine!.function_request_id);
}, 60_000);

it('logs no message content, task text, model answer or provider text on any path, and keeps lines short', async () => {
  const doctor = client(server.url, await mintToken(keys, { org: ORG }));
  const sessionId = (await doctor.post('/openai/sessions', { name: 'Private', system_prompt: 'PROMPT-MARKER' })).body.session_id;
  stub.latency(0);
  // A provider refusal quoting the request and a key; an answer beyond double precision; a task's own text.
  stub.fail({ fault: { kind: 'status', status: 400, message: 'Bad request: PROVIDER-MARKER sk-live-abcdefghijklmnopqrstuvwxyz123456' } });
  const refused = await doctor.post(`/openai/sessions/${sessionId}/ask`, { message: 'QUESTION-MARKER one' });
  expect(await settledMessage(doctor, sessionId, refused.body.message_id)).toMatchObject({ status: 'FAILED' });
  stub.fail({ fault: { kind: 'answer', body: JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: null } }] }) } });
  const blank = await doctor.post(`/openai/sessions/${sessionId}/ask`, { message: 'QUESTION-MARKER two' });
  expect(await settledMessage(doctor, sessionId, blank.body.message_id)).toMatchObject({ status: 'FAILED' });
  stub.reply(() => '{"id": 12345678901234567890, "note": "ANSWER-MARKER", "big": 1e400}');
  const task = await doctor.post(`/openai/sessions/${sessionId}/ctx`, { task: 'TASK-MARKER', history: [{ role: 'user', content: 'HISTORY-MARKER' }] });
  for (let i = 0; i < 250; i++) {
    if ((await doctor.get(`/openai/sessions/${sessionId}/ctx/${task.body.ctx_id}`)).body.status === 'done') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect((await doctor.get(`/openai/sessions/${sessionId}/ctx/${task.body.ctx_id}`)).body).toMatchObject({ status: 'done', result: expect.stringContaining('ANSWER-MARKER') });
  await doctor.post(`/openai/sessions/${sessionId}/messages`, { role: 'user', content: 'MESSAGE-MARKER' });

  const output = server.output();
  // The failures above were logged (by name and kind only).
  expect(logLines().some((line) => line.message === 'model call failed' && line.function_name === 'AskWorker')).toBe(true);
  for (const marker of ['PROMPT-MARKER', 'PROVIDER-MARKER', 'sk-live-', 'QUESTION-MARKER', 'ANSWER-MARKER', 'TASK-MARKER', 'HISTORY-MARKER', 'MESSAGE-MARKER', '12345678901234567890']) {
    expect(output).not.toContain(marker);
  }
  for (const line of output.split('\n')) expect(line.length).toBeLessThan(2000);
}, 60_000);
