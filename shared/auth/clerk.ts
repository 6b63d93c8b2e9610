import { decodeJwt, verifyJwt } from '@clerk/backend/jwt';
import type { JsonWebKey } from 'node:crypto';
import { env } from '../platform/env.js';
import { AppError } from '../platform/errors.js';
import { ORG_ID_PATTERN, type Principal } from './principal.js';

/** Log fields stay short and on one line: a token can carry anything, and it is the caller's. */
const REASON_MAX_CHARS = 200;

/** Why a token was refused: logged (bounded), never answered (the answer is the same for every reason). */
export class TokenRejected extends AppError {
  readonly reason: string;
  constructor(reason: string) {
    super('unauthenticated', 'unauthorized', 'A valid bearer token is required.');
    const line = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ');
    this.reason = line.length > REASON_MAX_CHARS ? `${line.slice(0, REASON_MAX_CHARS - 1)}…` : line;
  }
}

export interface ClerkSettings {
  jwtKey?: string;
  secretKey?: string;
  /** A Secrets Manager secret holding the Clerk secret key, read when neither key is given directly. */
  secretKeySecretName?: string;
  authorizedParties?: string[];
}

/** Clerk settings from Clerk's own variable names (platform/env.ts), read when called. */
export function clerkSettingsFromEnv(): ClerkSettings {
  return {
    jwtKey: env.clerkJwtKey(),
    secretKey: env.clerkSecretKey(),
    secretKeySecretName: env.clerkSecretName(),
    authorizedParties: env.clerkAuthorizedParties(),
  };
}

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;
/** Clerk user ids are `user_...`; anything with our key separator cannot be one. */
const USER_ID_PATTERN = /^[A-Za-z0-9_|:.@-]{1,128}$/;

interface ClerkClaims {
  sub?: unknown;
  exp?: unknown;
  /** v2 tokens: the active organization. */
  o?: { id?: unknown; rol?: unknown };
  /** v1 tokens. */
  org_id?: unknown;
  org_role?: unknown;
}

/**
 * Verifies `Authorization: Bearer <Clerk session token>` (RS256 signature, exp/nbf with Clerk's
 * clock skew, azp against the authorized parties) and returns who is calling.
 * @throws TokenRejected (401) for any bad token; AppError 403 when the token has no active organization.
 */
export async function authenticate(authorization: string | undefined, settings: ClerkSettings): Promise<Principal> {
  if (!authorization) throw new TokenRejected('no Authorization header');
  const token = BEARER.exec(authorization.trim())?.[1];
  if (!token) throw new TokenRejected('Authorization is not "Bearer <jwt>"');
  const secretKey = settings.jwtKey ? undefined : (settings.secretKey ?? (await secretKeyFromSecretsManager(settings.secretKeySecretName)));
  if (!settings.jwtKey && !secretKey) {
    throw new Error('Clerk is not configured: set CLERK_JWT_KEY, CLERK_SECRET_KEY or CLERK_SECRET_NAME');
  }
  const cacheKey = `${settings.jwtKey ?? secretKey}|${settings.authorizedParties?.join(',') ?? ''}|${token}`;
  const claims = verifiedRecently(cacheKey) ?? (await verify(token, settings, secretKey, cacheKey));
  const userId = claims.sub;
  if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) throw new TokenRejected('no usable sub claim');

  // One claim set only: v2 (`o`) when the token has it, else v1 (`org_id`, `org_role`).
  const v2 = claims.o !== undefined && claims.o !== null;
  const orgId = v2 ? claims.o!.id : claims.org_id;
  if (orgId === undefined || orgId === null || orgId === '') {
    throw new AppError(
      'forbidden',
      'no_active_organization',
      'Your token has no active organization. Select an organization in your app and try again.',
    );
  }
  if (typeof orgId !== 'string' || !ORG_ID_PATTERN.test(orgId)) {
    throw new AppError('forbidden', 'invalid_organization', 'The organization in your token is not a valid organization id.');
  }
  return { orgId, userId, role: v2 ? v2Role(claims.o!.rol) : v1Role(claims.org_role) };
}

/**
 * What @clerk/backend's verifyToken does, from its jwt module (half its size in every bundle):
 * machine tokens refused, the key from the PEM or from the instance's JWKS, then verifyJwt (RS256
 * signature, exp/nbf with a 5 s clock skew, azp against the authorized parties).
 */
async function verify(token: string, settings: ClerkSettings, secretKey: string | undefined, cacheKey: string): Promise<ClerkClaims> {
  try {
    const { header } = decodeJwt(token);
    if (header.cat === MACHINE_TOKEN_CATEGORY) throw new Error('Invalid session token category.');
    const key = settings.jwtKey ?? (await jwkFromClerk(secretKey!, header.kid));
    const claims = (await verifyJwt(token, { key, authorizedParties: settings.authorizedParties })) as ClerkClaims;
    remember(cacheKey, claims);
    return claims;
  } catch (error) {
    throw new TokenRejected(`verification failed: ${(error as Error).message}`);
  }
}

/**
 * Tokens verified in this process, until they expire: a client polls with one token many times a
 * minute, and each verification is an RSA signature check. A token is kept only while its `exp`
 * (strictly, without the clock skew verification allows) is ahead, and only with the same keys and
 * authorized parties.
 */
const verified = new Map<string, { claims: ClerkClaims; expiresAtMs: number }>();
const VERIFIED_MAX = 1000;

function verifiedRecently(cacheKey: string): ClerkClaims | undefined {
  const hit = verified.get(cacheKey);
  if (!hit) return undefined;
  if (hit.expiresAtMs > Date.now()) return hit.claims;
  verified.delete(cacheKey);
  return undefined;
}

function remember(cacheKey: string, claims: ClerkClaims): void {
  if (typeof claims.exp !== 'number') return;
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(cacheKey, { claims, expiresAtMs: claims.exp * 1000 });
}

/** v2 tokens say `o.rol: "admin"`, which becomes `org:admin`; no role is a member. */
function v2Role(role: unknown): string {
  if (typeof role !== 'string' || !role) return 'org:member';
  return role.startsWith('org:') ? role : `org:${role}`;
}

/** v1 tokens say `org_role: "org:admin"`, taken as it is; no role is a member. */
const v1Role = (role: unknown): string => (typeof role === 'string' && role ? role : 'org:member');

/** Clerk's category of machine-to-machine tokens, which are no session tokens. */
const MACHINE_TOKEN_CATEGORY = 'cl_B7d4PD333AAA';
/** How long the instance's signing keys are kept (as verifyToken keeps them). */
const JWKS_MAX_AGE_MS = 3_600_000;
let jwks: { secretKey: string; keys: Map<string, JsonWebKey>; until: number } | undefined;

/**
 * The instance's signing key `kid`, from Clerk's JWKS endpoint (read with the secret key), kept an
 * hour; read again once for a key not seen yet (a rotated key).
 */
async function jwkFromClerk(secretKey: string, kid: string | undefined): Promise<JsonWebKey> {
  const fresh = jwks?.secretKey === secretKey && jwks.until > Date.now();
  if (!fresh || !kid || !jwks!.keys.has(kid)) {
    const answer = await fetch(`${env.clerkApiUrl()}/jwks`, { headers: { authorization: `Bearer ${secretKey}` } });
    if (!answer.ok) throw new Error(`Clerk's JWKS could not be read (HTTP ${answer.status})`);
    const { keys = [] } = (await answer.json()) as { keys?: Array<JsonWebKey & { kid?: string }> };
    jwks = { secretKey, keys: new Map(keys.map((key) => [key.kid ?? '', key])), until: Date.now() + JWKS_MAX_AGE_MS };
  }
  const key = kid ? jwks!.keys.get(kid) : undefined;
  if (!key) throw new Error(`no signing key ${kid ?? '(none named)'} in Clerk's JWKS`);
  return key;
}

/** The Clerk secret key read last, and when: kept five minutes, as the extension keeps it. */
let cachedSecretKey: { name: string; value: string | undefined; until: number } | undefined;
const SECRET_MAX_AGE_MS = 300_000;

/**
 * The Clerk secret key from Secrets Manager, through the AWS Parameters and Secrets Lambda
 * extension (a layer the stack adds to the API functions when `clerkSecretName` is set: an HTTP
 * call to localhost, signed by the function's session token), so that no API bundle carries a
 * Secrets Manager client. Cached for five minutes. The usual networkless set-up (CLERK_JWT_KEY)
 * never calls it.
 */
async function secretKeyFromSecretsManager(name: string | undefined): Promise<string | undefined> {
  if (!name) return undefined;
  if (cachedSecretKey?.name === name && cachedSecretKey.until > Date.now()) return cachedSecretKey.value;
  const port = process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? '2773';
  const answer = await fetch(`http://localhost:${port}/secretsmanager/get?secretId=${encodeURIComponent(name)}`, {
    headers: { 'X-Aws-Parameters-Secrets-Token': process.env.AWS_SESSION_TOKEN ?? '' },
  });
  if (!answer.ok) throw new Error(`the Clerk secret key could not be read (HTTP ${answer.status} from the secrets extension)`);
  const { SecretString } = (await answer.json()) as { SecretString?: unknown };
  const value = typeof SecretString === 'string' && SecretString ? SecretString.trim() : undefined;
  cachedSecretKey = { name, value, until: Date.now() + SECRET_MAX_AGE_MS };
  return value;
}
