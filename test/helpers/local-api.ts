import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../bin/local/local-stack.js';
import { makeKeys, mintToken, type TestKeys, type TokenOptions } from '../../bin/local/tokens.js';

export { PROJECT_ROOT } from '../../shared/contract/project.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

export interface TestApi {
  stack: LocalStack;
  keys: TestKeys;
  url: string;
  /** A token for the given caller, signed with the keys the stack trusts. */
  token(options?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts the local stack in this process on a free port, in memory, trusting keys this test made
 * (as `npm start` does with CLERK_JWT_KEY set).
 */
export async function startTestApi(options: Partial<LocalStackOptions> & { env?: Record<string, string> } = {}): Promise<TestApi> {
  const keys = makeKeys();
  process.env.CLERK_JWT_KEY = keys.publicKeyPem;
  delete process.env.CLERK_AUTHORIZED_PARTIES;
  Object.assign(process.env, options.env);
  const stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, ...options });
  return {
    stack,
    keys,
    url: stack.url,
    token: (tokenOptions) => mintToken(keys, tokenOptions),
    close: () => stack.close(),
  };
}

import { client as plainClient, type Answer } from '../../bin/local/http-client.js';
import { openApiProblems } from './openapi-responses.js';

export type { Answer };

/**
 * The local API's HTTP client for the tests: each answer is also checked against docs/openapi.json,
 * and one that does not conform fails the test that got it.
 */
export function client(baseUrl: string, token?: string): ReturnType<typeof plainClient> {
  const plain = plainClient(baseUrl, token);
  const call: typeof plain.call = async (method, path, body, headers) => {
    const answer = await plain.call(method, path, body, headers);
    const problems = openApiProblems(method, path, answer.status, answer.body);
    if (problems.length) throw new Error(`The answer does not match docs/openapi.json:\n${problems.join('\n')}\n${JSON.stringify(answer.body).slice(0, 500)}`);
    return answer;
  };
  return {
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (path, body, headers) => call('POST', path, body, headers),
    patch: (path, body, headers) => call('PATCH', path, body, headers),
    delete: (path, headers) => call('DELETE', path, undefined, headers),
    call,
  };
}

/**
 * Polls a message until it is COMPLETED or FAILED, every 100 ms, for at most `seconds`; the last
 * answer read otherwise (the test's expectation then says what it was).
 */
export async function settledMessage(c: ReturnType<typeof client>, sessionId: string, messageId: string, seconds = 25): Promise<{ status: string }> {
  let answer: { status: string } = { status: 'PENDING' };
  for (let i = 0; i < seconds * 10 && !['COMPLETED', 'FAILED'].includes(answer.status); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer = (await c.get(`/openai/sessions/${sessionId}/messages/${messageId}`)).body;
  }
  return answer;
}
