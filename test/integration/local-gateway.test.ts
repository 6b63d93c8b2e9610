/** The local gateway's own refusals, over HTTP: answered in the contract's shape, like every other answer. */
import { startTestApi, type TestApi } from '../helpers/local-api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ workers: false });
});
afterAll(async () => api?.close());

it('answers a body past API Gateway’s 10 MB with 413 and the error body, without resetting the connection', async () => {
  const response = await fetch(`${api.url}/openai/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await api.token()}`, 'content-type': 'application/json' },
    body: `{"name":"${'x'.repeat(11 * 1024 * 1024)}"}`,
  });
  expect(response.status).toBe(413);
  expect(await response.json()).toMatchObject({ code: 'body_too_large', error: expect.stringContaining('larger than the limit') });
});

it('answers headers too large with 431 and the error body', async () => {
  const response = await fetch(`${api.url}/openai/sessions`, { headers: { authorization: `Bearer ${'a'.repeat(100 * 1024)}` } });
  expect(response.status).toBe(431);
  expect(await response.json()).toMatchObject({ code: 'headers_too_large', error: expect.stringContaining('headers') });
});
