/** The Clerk secret key read from Secrets Manager (CLERK_SECRET_NAME), against the Secrets Manager stub. */
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
  Object.assign(process.env, { AWS_ENDPOINT_URL_SECRETS_MANAGER: stub.url, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' });
  try {
    stub.put('clerk/test/secret-key', 'sk_test_not_a_real_key');
    const settings = withEnv({ CLERK_SECRET_NAME: 'clerk/test/secret-key', CLERK_JWT_KEY: undefined, CLERK_SECRET_KEY: undefined }, clerkSettingsFromEnv);
    expect(settings).toMatchObject({ secretKeySecretName: 'clerk/test/secret-key', jwtKey: undefined, secretKey: undefined });
    // With a secret key Clerk verifies against its JWKS endpoint, out of reach here: refused, never let through.
    const error = await rejection(authenticate(bearer(await mintToken(keys)), settings));
    expect(error).toBeInstanceOf(TokenRejected);
    expect(stub.requestsFor('clerk/test/secret-key')).toHaveLength(1);
  } finally {
    process.env = saved;
    await stub.close();
  }
});
