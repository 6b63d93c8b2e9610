import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../bin/local/stack.js';
import { makeKeys, mintToken, type TestKeys, type TokenOptions } from './tokens.js';

export { PROJECT_ROOT } from '../../infra/paths.js';
import { PROJECT_ROOT } from '../../infra/paths.js';

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

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small HTTP client for the tests: JSON in and out, the raw status and headers kept. */
export function client(baseUrl: string, token?: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the assertion to show
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  };
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    patch: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PATCH', path, body, headers),
    delete: <T = any>(path: string, headers?: Record<string, string>) => call<T>('DELETE', path, undefined, headers),
    call,
  };
}
