/**
 * The client README's DoctorAIAssistant (client/examples/doctor-ai-assistant.ts) against the local
 * server: the guide's consultation flow, with an answer streamed and a structured analysis.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DoctorAIAssistant } from '../../client/examples/doctor-ai-assistant.js';
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
  api = await startTestApi({ env: { org_medical_clinic_OPENAI_API_KEY: 'sk-clinic', org_medical_clinic_OPENAI_BASE_URL: stub.url } });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await stub?.close();
});

it('runs a consultation: a streamed answer, a structured analysis, the history, the end', async () => {
  stub.tokenGap(20);
  stub.reply((body) =>
    /Analyze/.test(body.messages.at(-1).content)
      ? '{"risk_level": "Low", "follow_up_actions": ["rest"], "monitor_symptoms": ["fever"], "specialist_referrals": []}'
      : 'Thank you. How long have you had the headache?',
  );
  const doctor = new DoctorAIAssistant(`${api.url}/openai`, await api.token({ org: 'org_medical_clinic', user: 'user_doctor' }));
  const sessionId = await doctor.createConsultation('Jane Doe');
  const streamed: string[] = [];
  const answer = await doctor.sendPatientMessage(sessionId, 'I have a headache', (text) => streamed.push(text));
  expect(answer).toMatchObject({ status: 'COMPLETED', content: 'Thank you. How long have you had the headache?' });
  expect(streamed.join('')).toBe(answer.content);
  expect(await doctor.analyzeSymptoms(sessionId, 'headache, mild fever')).toEqual({
    risk_level: 'Low',
    follow_up_actions: ['rest'],
    monitor_symptoms: ['fever'],
    specialist_referrals: [],
  });
  const history = await doctor.getConversationHistory(sessionId);
  expect(history.items.map((message) => message.role)).toEqual(['user', 'assistant']);
  expect((await doctor.endConsultation(sessionId)).session_end).toEqual(expect.any(String));
  const prompt = stub.requests[0]!.body.messages[0];
  expect(prompt).toMatchObject({ role: 'system', content: expect.stringContaining('Dr. AI') });
});

it('is in the client README as it is in the example file', () => {
  const example = readFileSync(join(PROJECT_ROOT, 'client', 'examples', 'doctor-ai-assistant.ts'), 'utf8');
  expect(readFileSync(join(PROJECT_ROOT, 'client', 'README.md'), 'utf8')).toContain(example);
});
