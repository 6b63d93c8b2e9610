/**
 * The front's check (infra/front-check.js): the CloudFront Function the stack deploys, run as the
 * local gateway runs it. It refuses requests without a bearer token (401) and bodies announced past
 * the limit (413) before any function runs, and hands the token on in `x-clerk-authorization`.
 */
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import { frontCheck } from '../../bin/local/front-check.js';
import { FRONT_CHECK_FILE } from '../../shared/contract/project.js';
import { LIMITS } from '../../shared/platform/limits.js';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl';
const request = (method: string, headers: Record<string, string | undefined>) => ({ method, url: '/openai/sessions?limit=1', headers }) as unknown as IncomingMessage;

it('refuses a request without a bearer token, or with one that is no JWT, in the contract’s shape with a request id', () => {
  for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer nope' }, { authorization: `Bearer ${TOKEN} extra` }]) {
    const refusal = frontCheck(request('GET', headers));
    expect(refusal).toMatchObject({ statusCode: 401, headers: { 'content-type': expect.stringMatching(/^application\/json/), 'x-request-id': expect.any(String) } });
    expect(JSON.parse(refusal!.body)).toEqual({ error: 'A valid bearer token is required.', code: 'unauthorized' });
  }
});

it('refuses a body announced past the API’s limit, and lets one at the limit through', () => {
  const over = frontCheck(request('POST', { authorization: `Bearer ${TOKEN}`, 'content-length': String(LIMITS.maxBodyBytes + 1) }));
  expect(over).toMatchObject({ statusCode: 413 });
  expect(JSON.parse(over!.body)).toEqual({ error: 'The request body is larger than the limit of 256 KB.', code: 'body_too_large' });
  expect(frontCheck(request('POST', { authorization: `Bearer ${TOKEN}`, 'content-length': String(LIMITS.maxBodyBytes) }))).toBeUndefined();
  expect(LIMITS.maxBodyBytes).toBe(256 * 1024);
});

it('lets a bearer token through, copied to x-clerk-authorization, and CORS preflights without one', () => {
  const withToken = request('GET', { authorization: `Bearer ${TOKEN}`, 'x-clerk-authorization': 'Bearer forged.token.here' });
  expect(frontCheck(withToken)).toBeUndefined();
  expect(withToken.headers['x-clerk-authorization']).toBe(`Bearer ${TOKEN}`);
  expect(frontCheck(request('OPTIONS', { origin: 'https://app.example', 'access-control-request-method': 'POST' }))).toBeUndefined();
});

it('answers a refusal with CORS headers for the stage’s origins, as the stack writes them in', async () => {
  const { frontCheckCode } = await import('../../infra/front.js');
  const { runInNewContext } = await import('node:vm');
  const handler = runInNewContext(`${frontCheckCode(['https://app.example.com'])}\n;handler`, {});
  const refused = handler({ context: { requestId: 'r1' }, request: { method: 'GET', uri: '/openai/sessions', headers: { origin: { value: 'https://app.example.com' } } } });
  expect(refused).toMatchObject({ statusCode: 401, headers: { 'access-control-allow-origin': { value: 'https://app.example.com' }, vary: { value: 'origin' } } });
  const foreign = handler({ context: { requestId: 'r2' }, request: { method: 'GET', uri: '/openai/sessions', headers: { origin: { value: 'https://evil.example' } } } });
  expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
});

it('is a CloudFront Function: one handler, no imports, under CloudFront’s 10 KB', () => {
  const source = readFileSync(FRONT_CHECK_FILE, 'utf8');
  expect(Buffer.byteLength(source)).toBeLessThan(10 * 1024);
  expect(source).toMatch(/^function handler\(event\)/m);
  expect(source).not.toMatch(/\b(import|require|export)\b[\s(]/);
});
