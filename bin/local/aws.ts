/** Fixed region and dummy credentials for the local emulators (no AWS account is involved). */
export const localCredentials = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;
