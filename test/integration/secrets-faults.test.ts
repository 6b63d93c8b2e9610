/**
 * Secrets Manager throttling, injected by a proxy in front of the Secrets Manager stub: the ask's
 * job waits and comes back, and the answer comes once the secret can be read, with one model call.
 */
import { startStubOpenAI, type StubOpenAI } from '../../bin/local/stub-openai.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { client, settledMessage, startTestApi, type TestApi } from '../helpers/local-api.js';
import { startStubSecretsManager, type StubSecretsManager } from '../../bin/local/stub-secrets-manager.js';

let api: TestApi;
let proxy: FaultProxy;
let secrets: StubSecretsManager;
let stub: StubOpenAI;

beforeAll(async () => {
  stub = await startStubOpenAI();
  secrets = await startStubSecretsManager();
  proxy = await startFaultProxy(secrets.url);
  secrets.put('ai-chat/local/orgs/org_secret_faults', JSON.stringify({ api_key: 'sk-from-secret', base_url: stub.url }));
  api = await startTestApi({
    visibilityTimeoutSeconds: 2,
    env: { ORG_SECRET_PREFIX: 'ai-chat/local/orgs/', AWS_ENDPOINT_URL_SECRETS_MANAGER: proxy.url, JOB_RETRY_BASE_SECONDS: '1', JOB_MAX_ATTEMPTS: '10' },
  });
}, 30_000);
afterAll(async () => {
  await api?.close();
  await proxy?.close();
  await secrets?.close();
  await stub?.close();
});

it('answers an ask once Secrets Manager stops throttling, with the key from the secret and one model call', async () => {
  const c = client(api.url, await api.token({ org: 'org_secret_faults', user: 'user_faults' }));
  const { session_id } = (await c.post('/openai/sessions', {})).body;
  proxy.fail({ operation: 'GetSecretValue', status: 400, type: 'ThrottlingException', times: 6 });
  const asked = await c.post(`/openai/sessions/${session_id}/ask`, { message: 'key please' });
  const answer = await settledMessage(c, session_id, asked.body.message_id, 25);
  expect(answer).toMatchObject({ status: 'COMPLETED' });
  expect(proxy.injected.get('GetSecretValue')).toBeGreaterThanOrEqual(3);
  expect(stub.completions().map((request) => request.apiKey)).toEqual(['sk-from-secret']);
}, 40_000);
