/**
 * Stands in for the AWS SDK's default credential provider in the deployed bundles
 * (infra/api-function.ts aliases `@aws-sdk/credential-provider-node` here): in Lambda the credentials are always in the
 * environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the default
 * chain's other sources (SSO, profiles, web identity, the instance metadata service, and the STS and
 * SSO clients they carry, about 90 KB) are left out of every bundle. Run from source (npm start, the
 * tests), the SDK keeps its default chain.
 */
interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** The SDK's `defaultProvider`, reading the environment only. */
export const defaultProvider =
  (_init?: unknown) =>
  async (): Promise<Credentials> => {
    const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) throw Object.assign(new Error('No AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)'), { name: 'CredentialsProviderError' });
    const expiration = process.env.AWS_CREDENTIAL_EXPIRATION;
    return {
      accessKeyId,
      secretAccessKey,
      ...(process.env.AWS_SESSION_TOKEN ? { sessionToken: process.env.AWS_SESSION_TOKEN } : {}),
      ...(expiration ? { expiration: new Date(expiration) } : {}),
    };
  };
