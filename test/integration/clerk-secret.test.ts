/**
 * The Clerk secret key read from Secrets Manager (CLERK_SECRET_NAME) through the Parameters and
 * Secrets Lambda extension's interface, which the Secrets Manager stub answers too.
 */
import { authenticate, clerkSettingsFromEnv, TokenRejected } from '../../shared/auth/clerk.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';
import { rejectionOf as rejection } from '../helpers/assertions.js';
import { withEnv } from '../helpers/env.js';
import { startStubSecretsManager } from '../../bin/local/stub-secrets-manager.js';

const keys = makeKeys();
const bearer = (token: string) => `Bearer ${token}`;

it('reads the Clerk secret key from Secrets Manager when CLERK_SECRET_NAME names it', async () => {
  const stub = await startStubSecretsManager();
  const saved = { ...process.env };
  Object.assign(process.env, { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: new URL(stub.url).port, AWS_SESSION_TOKEN: 'session-token' });
  try {
    stub.put('clerk/test/secret-key', 'sk_test_not_a_real_key');
    const settings = withEnv({ CLERK_SECRET_NAME: 'clerk/test/secret-key', CLERK_JWT_KEY: undefined, CLERK_SECRET_KEY: undefined }, clerkSettingsFromEnv);
    expect(settings).toMatchObject({ secretKeySecretName: 'clerk/test/secret-key', jwtKey: undefined, secretKey: undefined });
    // With a secret key Clerk verifies against its JWKS endpoint, out of reach here: refused, never let through.
    const error = await rejection(authenticate(bearer(await mintToken(keys)), settings));
    expect(error).toBeInstanceOf(TokenRejected);
    expect(stub.requestsFor('clerk/test/secret-key').map((request) => request.target)).toEqual(['extension.get']);
    // Kept five minutes: a second token costs no second read.
    await rejection(authenticate(bearer(await mintToken(keys)), settings));
    expect(stub.requestsFor('clerk/test/secret-key')).toHaveLength(1);
  } finally {
    process.env = saved;
    await stub.close();
  }
});

it('verifies a token with the instance’s signing key read from Clerk’s JWKS with the secret key, read once', async () => {
  const { createServer } = await import('node:http');
  const { createPublicKey } = await import('node:crypto');
  const jwk = { ...createPublicKey(keys.publicKeyPem).export({ format: 'jwk' }), kid: 'test', alg: 'RS256', use: 'sig' };
  const seen: Array<string | undefined> = [];
  const clerk = createServer((request, response) => {
    seen.push(request.headers.authorization);
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => clerk.listen(0, '127.0.0.1', () => resolve()));
  const saved = process.env.CLERK_API_URL;
  process.env.CLERK_API_URL = `http://127.0.0.1:${(clerk.address() as { port: number }).port}/v1`;
  try {
    const settings = { secretKey: 'sk_test_jwks' };
    await expect(authenticate(bearer(await mintToken(keys, { org: 'org_jwks', user: 'user_jwks' })), settings)).resolves.toMatchObject({ orgId: 'org_jwks', userId: 'user_jwks' });
    await expect(authenticate(bearer(await mintToken(keys, { org: 'org_jwks', user: 'user_again' })), settings)).resolves.toMatchObject({ userId: 'user_again' });
    expect(seen).toEqual(['Bearer sk_test_jwks']);
    // A token signed with another key is refused.
    expect(await rejection(authenticate(bearer(await mintToken(makeKeys())), settings))).toBeInstanceOf(TokenRejected);
  } finally {
    if (saved === undefined) delete process.env.CLERK_API_URL;
    else process.env.CLERK_API_URL = saved;
    await new Promise((resolve) => clerk.close(resolve));
  }
});
