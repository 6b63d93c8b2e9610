/**
 * `npm run token -- --org org_x --user user_y [--role admin] [--v1] [--ttl 3600] [--azp URL] [--key private.pem]`
 * prints a Clerk-style session token signed with the local development key (or --key), for curl and tests.
 */
import { signJwt } from '@clerk/backend/jwt';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { ORG_ID_PATTERN } from '../../shared/auth/principal.js';
import { env } from '../../shared/platform/env.js';
import { devKeysDirectory } from './dev-keys.js';

const root = PROJECT_ROOT;
const { values } = parseArgs({
  options: {
    org: { type: 'string' },
    user: { type: 'string', default: 'user_local' },
    role: { type: 'string', default: 'member' },
    v1: { type: 'boolean', default: false },
    ttl: { type: 'string', default: '3600' },
    azp: { type: 'string' },
    key: { type: 'string' },
  },
});

const fail = (message: string): never => {
  console.error(message);
  process.exit(2);
};
if (values.org !== undefined && !ORG_ID_PATTERN.test(values.org)) fail(`--org must match org_[a-zA-Z0-9]+, got "${values.org}"`);
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) fail('--ttl must be a whole number of seconds');

const keyPath = values.key ?? join(devKeysDirectory(root), 'private.pem');
let privateKey = '';
try {
  privateKey = readFileSync(keyPath, 'utf8');
} catch {
  fail(`No signing key at ${keyPath}. Run \`npm start\` once without CLERK_JWT_KEY to make the development key pair, or pass --key.`);
}

const now = Math.floor(Date.now() / 1000);
const role = values.role!.replace(/^org:/, '');
const azp = values.azp ?? env.clerkAuthorizedParties()?.[0];
const claims: Record<string, unknown> = {
  sub: values.user,
  sid: `sess_local${now}`,
  iss: 'https://local.development',
  iat: now,
  nbf: now - 5,
  exp: now + ttl,
  ...(azp ? { azp } : {}),
};
if (values.org) {
  if (values.v1) Object.assign(claims, { org_id: values.org, org_role: `org:${role}` });
  else Object.assign(claims, { v: 2, o: { id: values.org, rol: role } });
}
console.log(await signJwt(claims, privateKey, { algorithm: 'RS256', header: { kid: 'local-dev' } }));
