import { signJwt } from '@clerk/backend/jwt';
import { generateKeyPairSync } from 'node:crypto';

/** An RSA key pair made by the test itself, as a client's own Clerk instance would have. */
export interface TestKeys {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function makeKeys(): TestKeys {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export interface TokenOptions {
  org?: string | null;
  user?: string;
  /** v2 `o.rol` ("admin", "member") or v1 `org_role` ("org:admin"). */
  role?: string;
  version?: 1 | 2;
  azp?: string;
  /** Seconds from now. */
  expiresIn?: number;
  notBefore?: number;
  extra?: Record<string, unknown>;
}

/** A Clerk-shaped session token (v2 by default) signed RS256 with the given keys. */
export async function mintToken(keys: TestKeys, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    sub: options.user ?? 'user_test',
    iss: 'https://clerk.test',
    sid: 'sess_test',
    iat: now,
    nbf: now + (options.notBefore ?? -5),
    exp: now + (options.expiresIn ?? 300),
    ...(options.azp ? { azp: options.azp } : {}),
  };
  const org = options.org === undefined ? 'org_test' : options.org;
  if (org !== null) {
    if (options.version === 1) Object.assign(claims, { org_id: org, org_role: options.role ?? 'org:member' });
    else Object.assign(claims, { v: 2, o: { id: org, rol: options.role ?? 'member', slg: 'test' } });
  }
  Object.assign(claims, options.extra);
  return signJwt(claims, keys.privateKeyPem, { algorithm: 'RS256', header: { kid: 'test' } });
}

/** A token with `alg: none` and no signature. */
export function unsignedToken(claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}
