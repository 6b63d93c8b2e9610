import { verifyToken } from '@clerk/backend';
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
  let claims: ClerkClaims;
  try {
    claims = (await verifyToken(token, {
      jwtKey: settings.jwtKey,
      secretKey,
      authorizedParties: settings.authorizedParties,
    })) as ClerkClaims;
  } catch (error) {
    throw new TokenRejected(`verification failed: ${(error as Error).message}`);
  }
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

/** v2 tokens say `o.rol: "admin"`, which becomes `org:admin`; no role is a member. */
function v2Role(role: unknown): string {
  if (typeof role !== 'string' || !role) return 'org:member';
  return role.startsWith('org:') ? role : `org:${role}`;
}

/** v1 tokens say `org_role: "org:admin"`, taken as it is; no role is a member. */
const v1Role = (role: unknown): string => (typeof role === 'string' && role ? role : 'org:member');

/**
 * The Clerk secret key from Secrets Manager, cached for five minutes. Loaded only when used, so the
 * usual networkless set-up (CLERK_JWT_KEY) pays nothing for it on a cold start.
 */
async function secretKeyFromSecretsManager(name: string | undefined): Promise<string | undefined> {
  if (!name) return undefined;
  const { getSecret } = await import('@aws-lambda-powertools/parameters/secrets');
  const value = await getSecret(name, { maxAge: 300 });
  return typeof value === 'string' && value ? value.trim() : undefined;
}
