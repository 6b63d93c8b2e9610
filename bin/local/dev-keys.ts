import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevKeys {
  privateKeyPem: string;
  publicKeyPem: string;
  directory: string;
}

/** Where `npm start` keeps its development key pair, and `npm run token` finds it. */
export const devKeysDirectory = (root: string): string => join(root, '.local', 'dev-keys');

/**
 * The local development signing keys (RS256), made on first use and kept (git-ignored) so tokens
 * from `npm run token` stay valid across restarts. Never used when CLERK_JWT_KEY is set.
 */
export function ensureDevKeys(directory: string): DevKeys {
  const privatePath = join(directory, 'private.pem');
  const publicPath = join(directory, 'public.pem');
  if (!existsSync(privatePath) || !existsSync(publicPath)) {
    mkdirSync(directory, { recursive: true });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
  }
  return { privateKeyPem: readFileSync(privatePath, 'utf8'), publicKeyPem: readFileSync(publicPath, 'utf8'), directory };
}
