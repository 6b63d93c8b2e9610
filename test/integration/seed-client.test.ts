import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, startTestApi, type TestApi } from '../helpers/local-api.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';

/**
 * The integration guide's own client code, run as written against the local API: the
 * DoctorAIAssistant class, its usage example, and the other snippets. The guide is kept in
 * test/fixtures (a copy of ../shared/seeds/000_44cbefbba7a04bb2.txt, checked below while it is there).
 */
const GUIDE = join(PROJECT_ROOT, 'test', 'fixtures', 'integration-guide.md');
const SEED = join(PROJECT_ROOT, '..', 'shared', 'seeds', '000_44cbefbba7a04bb2.txt');
const guide = readFileSync(GUIDE, 'utf8');
const blocks = [...guide.matchAll(/```javascript\n([\s\S]*?)```/g)].map((match) => match[1]!);
const doctorBlock = blocks.find((block) => block.includes('class DoctorAIAssistant'))!;
const doctorClass = doctorBlock.slice(0, doctorBlock.indexOf('// Usage example'));

// eslint-disable-next-line @typescript-eslint/no-empty-function
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...args: unknown[]) => Promise<any>;

let api: TestApi;
let stub: StubOpenAI;
let token: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stub = await startStubOpenAI();
  process.env.org_medical_clinic_OPENAI_API_KEY = 'sk-medical';
  process.env.org_medical_clinic_OPENAI_BASE_URL = stub.url;
  process.env.org_medical_clinic_OPENAI_MODEL = 'gpt-4o';
  api = await startTestApi();
  token = await api.token({ org: 'org_medical_clinic', user: 'user_doctor' });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
  process.env = savedEnv;
});
beforeEach(() => {
  stub.reset();
  stub.reply((body) =>
    /Format as JSON/.test(body.messages.at(-1).content)
      ? '{"risk_level": "Medium", "follow_up_actions": ["See a doctor"], "monitor_symptoms": ["pain"], "specialist_referrals": ["cardiology"]}'
      : `Dr. AI heard: ${body.messages.at(-1).content.slice(0, 40)}`,
  );
});

/**
 * The `fetch` the snippets get: the guide writes paths relative to the API (`/openai/...`) and a
 * placeholder token, as code in a page served by the API would; this resolves both and changes
 * nothing else.
 */
const pageFetch = (input: string, init: RequestInit = {}) => {
  const headers = { ...(init.headers as Record<string, string>) };
  if (headers.Authorization === 'Bearer <clerk-token>' || headers.Authorization === 'Bearer your-clerk-token') {
    headers.Authorization = `Bearer ${token}`;
  }
  return fetch(new URL(input, api.url), { ...init, headers });
};

it('keeps the guide in test/fixtures identical to the seed', () => {
  // The seed lies beside the checkout (../shared), for developers and CI alike: its absence fails.
  expect(existsSync(SEED)).toBe(true);
  expect(guide).toBe(readFileSync(SEED, 'utf8'));
  expect(doctorClass).toContain('async waitForContextResult');
});

it('runs the DoctorAIAssistant class as written, with only its baseUrl pointed at the local API', async () => {
  const DoctorAIAssistant = new Function(`${doctorClass}\nreturn DoctorAIAssistant;`)();
  const doctorAI = new DoctorAIAssistant(token);
  doctorAI.baseUrl = `${api.url}/openai`;

  const sessionId = await doctorAI.createConsultation('John Doe');
  expect(sessionId).toMatch(/^[0-9A-Z]{26}$/);
  const initialResponse = await doctorAI.startConsultation(sessionId);
  expect(initialResponse).toMatchObject({ status: 'COMPLETED', role: 'assistant', content: expect.stringContaining("Dr. AI heard: Hello, I'm Dr. AI") });

  const patientResponse = await doctorAI.sendPatientMessage(
    sessionId,
    "I've been having chest pain for the past 2 days. It's a sharp pain that comes and goes.",
    [{ role: 'assistant', content: initialResponse.content }],
  );
  expect(patientResponse.status).toBe('COMPLETED');
  const patientCall = stub.completions().find((request) => String(request.body.messages.at(-1).content).includes('chest pain for the past 2 days'));
  expect(patientCall!.body.messages.map((message: { role: string }) => message.role)).toEqual(['system', 'assistant', 'user']);

  const analysis = await doctorAI.analyzeSymptoms(sessionId, 'Chest pain, 2 days duration, sharp, intermittent');
  expect(analysis).toMatchObject({ status: 'done', result_json: { risk_level: 'Medium' } });
  expect(JSON.parse(analysis.result).specialist_referrals).toEqual(['cardiology']);

  const history = await doctorAI.getConversationHistory(sessionId);
  expect(history.items).toHaveLength(4);
  expect(history.items[0]).toMatchObject({ role: 'assistant', status: 'COMPLETED' });

  const ended = await doctorAI.endConsultation(sessionId);
  expect(ended.session_end).toEqual(expect.any(String));
}, 60_000);

it("runs the guide's usage example unchanged, in a page served by the API", async () => {
  const logged: unknown[][] = [];
  const run = new AsyncFunction('fetch', 'console', doctorBlock);
  await run(pageFetch, { log: (...args: unknown[]) => logged.push(args) });
  expect(logged.map((line) => line[0])).toEqual(['Dr. AI:', 'Dr. AI:', 'Analysis:']);
  expect(String(logged[0]![1])).toContain('Dr. AI heard');
  expect(String(logged[2]![1])).toContain('"risk_level"');
}, 60_000);

it("runs the guide's other snippets unchanged", async () => {
  const session = await pageFetch('/openai/sessions', {
    method: 'POST',
    headers: { Authorization: 'Bearer <clerk-token>', 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'For the snippets' }),
  });
  const snippetSessionId = ((await session.json()) as { session_id: string }).session_id;
  const snippets = blocks.filter((block) => block !== doctorBlock).join('\n');
  const exported = [
    'createMedicalSession', 'sendMessage', 'getMessageResponse', 'processMedicalData', 'getContextResult', 'createLegalSession',
    'analyzeContract', 'createSupportSession', 'handleSupportTicket', 'createLearningSession', 'conductLesson', 'getSessions',
    'updateSession', 'getSession', 'getMessages', 'deleteMessage', 'createMessage', 'analyzeDocument', 'waitForMessageCompletion',
    'cleanupOldSessions', 'getMessageWithCache', 'sendMessageWithRetry', 'testConnection', 'extractedData',
  ];
  const logged: unknown[][] = [];
  const quiet = { log: (...args: unknown[]) => logged.push(args), error: (...args: unknown[]) => logged.push(['error', ...args]) };
  // The snippets' own top-level code runs too: it ends `sessionId` and extracts data from it.
  const guideApi = await new AsyncFunction('fetch', 'console', 'sessionId', `${snippets}\nreturn { ${exported.join(', ')} };`)(
    pageFetch,
    quiet,
    snippetSessionId,
  );

  expect(guideApi.extractedData).toMatchObject({ code: 'session_ended' });
  const renamed = await guideApi.getSession(snippetSessionId);
  expect(renamed).toMatchObject({ name: 'Updated Session Name', session_end: expect.any(String) });

  const medical = await guideApi.createMedicalSession();
  const messageId = await guideApi.sendMessage(medical, 'Hello, I have a fever.', [{ role: 'assistant', content: 'Hi' }]);
  const done = await guideApi.waitForMessageCompletion(medical, messageId);
  expect(done).toMatchObject({ status: 'COMPLETED', model: 'gpt-4o' });
  // (The guide's sendMessageAndWait is not called: it reads `.message_id` from what sendMessage
  // returns, which is already the id, so it polls /messages/undefined against any server.)

  const ctxId = await guideApi.processMedicalData(medical, { age: 54, symptoms: ['fever'] });
  let result = await guideApi.getContextResult(medical, ctxId);
  for (let i = 0; i < 100 && result.status !== 'done'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    result = await guideApi.getContextResult(medical, ctxId);
  }
  expect(result).toMatchObject({ status: 'done', result_json: { risk_level: 'Medium' } });

  const added = await guideApi.createMessage(medical, 'assistant', 'A note written by the doctor.');
  expect(added).toMatchObject({ role: 'assistant', status: 'COMPLETED' });
  const page = await guideApi.getMessages(medical, { limit: 2, order: 'asc' });
  expect(page).toMatchObject({ has_more: true, next: expect.any(String) });
  const rest = await guideApi.getMessages(medical, { limit: 50, order: 'asc', after: page.next });
  expect(page.items.length + rest.items.length).toBe(3);
  expect(await guideApi.deleteMessage(medical, added.message_id)).toEqual({ deleted: true, message_id: added.message_id });

  const sessions = await guideApi.getSessions(1000, true);
  expect(sessions.items.find((item: { session_id: string }) => item.session_id === medical).last_message).toMatchObject({ role: 'assistant' });
  await guideApi.cleanupOldSessions(30);
  expect((await guideApi.getSession(medical)).session_end).toBeNull();

  for (const created of [await guideApi.createLegalSession(), await guideApi.createSupportSession('es'), await guideApi.createLearningSession('Math', 'beginner')]) {
    expect(created).toMatchObject({ session_id: expect.any(String), session_end: null });
  }
  const legal = (await guideApi.createLegalSession()).session_id;
  expect(await guideApi.analyzeContract(legal, 'Clause 1: ...')).toMatchObject({ status: 'PENDING' });
  expect(await guideApi.analyzeDocument(legal, 'Quarterly report', 'summary')).toMatchObject({ status: 'pending' });
  await guideApi.testConnection();
  expect(logged).toContainEqual(['Connection working']);
}, 60_000);
