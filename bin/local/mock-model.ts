/**
 * The mock model of `npm start -- --mock-model`: an OpenAI-compatible server on 127.0.0.1 (the stub
 * the tests use, keeping no record of its requests) that streams a deterministic reply word by word,
 * as model `mock`, to every organization without a key of its own. Markers in the question show
 * what a real provider does without one:
 *
 * - `[slow:MS]`   wait MS before the first word (a slow provider; a timeout past the worker's time)
 * - `[gap:MS]`    MS between words (default LOCAL_MOCK_TOKEN_MS, 40)
 * - `[words:N]`   an answer of N words (a long one to stop with cancel)
 * - `[json]`      a JSON answer (for a ctx task's `result_json`)
 * - `[fail:429]`, `[fail:500]`, `[fail:401]`, `[fail:context]`: the provider's error every time
 *                 (429 and 500 are tried again, then fail with a sentence; 401 and context at once)
 * - `[flaky]`     a 500 the first time this question is asked, an answer the next
 *
 * Never part of a deployment: it lives in bin/local, which no bundle imports (a template test checks
 * that no function is given its variable).
 */
import { startStubOpenAI, type Fault, type RequestPlan, type StubOpenAI } from './stub-openai.js';

/** The model name the mock answers as. */
export const MOCK_MODEL = 'mock';

const FILLER =
  'This answer comes from the mock model of the local stack, streamed one word at a time so that ' +
  'you can watch it arrive, stop it, and read it back. Ask with [words:300] for a long one, or with ' +
  '[fail:429] to see a provider refuse.';

const FAULTS: Record<string, Fault> = {
  '429': { kind: 'rate_limit' },
  '500': { kind: 'server_error' },
  '401': { kind: 'unauthorized' },
  context: { kind: 'context_length_exceeded' },
};

const lastUserText = (body: { messages?: Array<{ role?: string; content?: unknown }> }): string => {
  const message = [...(body.messages ?? [])].reverse().find((candidate) => candidate.role === 'user');
  return typeof message?.content === 'string' ? message.content : '';
};

/** The number in a marker `[name:N]`, if the text has one. */
const marker = (text: string, name: string): string | undefined => new RegExp(`\\[${name}:([\\w]+)\\]`).exec(text)?.[1];

/** The mock's reply to a request: deterministic, from the question and the turns before it. */
export function mockReply(body: { messages?: Array<{ role?: string; content?: unknown }> }): string {
  const question = lastUserText(body);
  if (/\[json\]/.test(question)) return JSON.stringify({ mock: true, question: question.replace(/\[[^\]]*\]/g, '').trim().slice(0, 80), words: question.split(/\s+/).length });
  const words = Number(marker(question, 'words') ?? 0);
  // The system prompt is not a turn of the conversation.
  const turns = (body.messages ?? []).filter((message) => message.role === 'user' || message.role === 'assistant');
  const earlier = Math.max(0, turns.length - 1);
  const opening = `You said: "${question.replace(/\[[^\]]*\]/g, '').trim().slice(0, 200)}" (with ${earlier} message${earlier === 1 ? '' : 's'} before it). `;
  if (!words) return `${opening}${FILLER}`;
  return Array.from({ length: words }, (_, i) => `word${i + 1}`).join(' ');
}

/**
 * Starts the mock model.
 * @example const mock = await startMockModel({ tokenMs: 40 }); // then orgs without a key are answered at mock.url
 */
export async function startMockModel(options: { tokenMs?: number } = {}): Promise<StubOpenAI> {
  const stub = await startStubOpenAI({ record: false });
  const tokenMs = options.tokenMs ?? 40;
  const flakySeen = new Set<string>();
  stub.reply(mockReply);
  stub.plan((body): RequestPlan => {
    const question = lastUserText(body);
    const plan: RequestPlan = { tokenGapMs: Number(marker(question, 'gap') ?? tokenMs), latencyMs: Number(marker(question, 'slow') ?? 0) };
    const fail = marker(question, 'fail');
    if (fail && FAULTS[fail]) plan.fault = FAULTS[fail];
    if (/\[flaky\]/.test(question) && !flakySeen.has(question)) {
      flakySeen.add(question);
      plan.fault = FAULTS['500'];
    }
    return plan;
  });
  return stub;
}
