import { createHmac } from 'node:crypto';
import { authenticate, clerkSettingsFromEnv, TokenRejected } from '../../shared/auth/clerk.js';
import { AppError } from '../../shared/platform/errors.js';
import { withEnv } from '../helpers/env.js';
import { makeKeys, mintToken, unsignedToken } from '../../bin/local/tokens.js';
import { rejectionOf as rejection } from '../helpers/assertions.js';

const keys = makeKeys();
const foreign = makeKeys();
const settings = { jwtKey: keys.publicKeyPem };
const bearer = (token: string) => `Bearer ${token}`;

describe('authenticate: refused tokens answer 401', () => {
  const cases: Array<[string, () => Promise<string | undefined>]> = [
    ['no Authorization header', async () => undefined],
    ['a scheme other than Bearer', async () => `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['Bearer with nothing after it', async () => 'Bearer '],
    ['Bearer with a non-JWT', async () => 'Bearer not-a-jwt'],
    ['an expired token', async () => bearer(await mintToken(keys, { expiresIn: -60 }))],
    ['a token not valid yet', async () => bearer(await mintToken(keys, { notBefore: 60 }))],
    ['a token signed by another key', async () => bearer(await mintToken(foreign))],
    ['a token with a tampered payload', async () => {
      const [header, , signature] = (await mintToken(keys)).split('.');
      const payload = Buffer.from(JSON.stringify({ sub: 'user_evil', v: 2, o: { id: 'org_evil', rol: 'admin' }, exp: 9e9 })).toString('base64url');
      return bearer(`${header}.${payload}.${signature}`);
    }],
    ['alg none', async () => bearer(unsignedToken({ sub: 'user_a', v: 2, o: { id: 'org_a' }, exp: Math.floor(Date.now() / 1000) + 60 }))],
    ['HS256 signed with the public key as the secret', async () => {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: 'user_a', v: 2, o: { id: 'org_a' }, exp: Math.floor(Date.now() / 1000) + 60 })}`;
      return bearer(`${input}.${createHmac('sha256', keys.publicKeyPem).update(input).digest('base64url')}`);
    }],
    ['a token without sub', async () => bearer(await mintToken(keys, { extra: { sub: undefined } }))],
  ];
  it.each(cases)('%s', async (_name, header) => {
    const error = await rejection(authenticate(await header(), settings));
    expect(error).toBeInstanceOf(TokenRejected);
    expect((error as TokenRejected).kind).toBe('unauthenticated');
    // The answer is the same whatever the reason; the reason is for the log.
    expect((error as TokenRejected).message).toBe('A valid bearer token is required.');
    expect((error as TokenRejected).reason).toBeTruthy();
  });

  it('refuses a token whose azp is not an authorized party', async () => {
    const token = await mintToken(keys, { azp: 'https://evil.example' });
    const error = await rejection(authenticate(bearer(token), { ...settings, authorizedParties: ['https://app.example'] }));
    expect(error).toBeInstanceOf(TokenRejected);
    expect((error as TokenRejected).reason).toMatch(/azp|authorized part/i);
  });

  it('refuses a token without azp when authorized parties are configured', async () => {
    const error = await rejection(authenticate(bearer(await mintToken(keys)), { ...settings, authorizedParties: ['https://app.example'] }));
    expect(error).toBeInstanceOf(TokenRejected);
  });
});

describe('authenticate: accepted tokens', () => {
  it('reads the org and role from v2 claims (o.id, o.rol)', async () => {
    const token = await mintToken(keys, { version: 2, org: 'org_Clinic42', user: 'user_2abc', role: 'admin' });
    await expect(authenticate(bearer(token), settings)).resolves.toEqual({ orgId: 'org_Clinic42', userId: 'user_2abc', role: 'org:admin' });
  });

  it('reads org and role from one claim set: v2 when `o` is there, however v1 claims beside it say otherwise', async () => {
    // A v2 organization without a role, and v1 claims of another org naming an admin.
    const mixed = await mintToken(keys, { org: null, user: 'user_mixed', extra: { v: 2, o: { id: 'org_acme' }, org_id: 'org_globex', org_role: 'org:admin' } });
    await expect(authenticate(bearer(mixed), settings)).resolves.toEqual({ orgId: 'org_acme', userId: 'user_mixed', role: 'org:member' });
    // `o` without an id is a v2 token without an active organization, whatever org_id says.
    const orgless = await mintToken(keys, { org: null, extra: { v: 2, o: { rol: 'admin' }, org_id: 'org_globex', org_role: 'org:admin' } });
    expect(await rejection(authenticate(bearer(orgless), settings))).toMatchObject({ code: 'no_active_organization' });
  });

  it('reads the org and role from v1 claims (org_id, org_role)', async () => {
    const token = await mintToken(keys, { version: 1, org: 'org_law', user: 'user_9', role: 'org:member' });
    await expect(authenticate(bearer(token), settings)).resolves.toEqual({ orgId: 'org_law', userId: 'user_9', role: 'org:member' });
  });

  it('takes the guide’s example org ids (org_medical_clinic)', async () => {
    const token = await mintToken(keys, { org: 'org_medical_clinic' });
    await expect(authenticate(bearer(token), settings)).resolves.toMatchObject({ orgId: 'org_medical_clinic' });
  });

  it('keeps a verified token only for the keys and parties it was verified with, and only until it expires', async () => {
    const token = await mintToken(keys, { azp: 'https://app.example', expiresIn: 60 });
    await expect(authenticate(bearer(token), { ...settings, authorizedParties: ['https://app.example'] })).resolves.toMatchObject({ userId: 'user_test' });
    // The same token, accepted a moment ago, is checked again under other settings.
    expect(await rejection(authenticate(bearer(token), { ...settings, authorizedParties: ['https://other.example'] }))).toBeInstanceOf(TokenRejected);
    expect(await rejection(authenticate(bearer(token), { jwtKey: foreign.publicKeyPem }))).toBeInstanceOf(TokenRejected);
  });

  it('takes a token with an authorized azp', async () => {
    const token = await mintToken(keys, { azp: 'https://app.example' });
    await expect(
      authenticate(bearer(token), { ...settings, authorizedParties: ['https://other.example', 'https://app.example'] }),
    ).resolves.toMatchObject({ orgId: 'org_test' });
  });

  it('allows a few seconds of clock skew on exp and nbf, and no more', async () => {
    await expect(authenticate(bearer(await mintToken(keys, { expiresIn: -2 })), settings)).resolves.toBeDefined();
    await expect(authenticate(bearer(await mintToken(keys, { notBefore: 2 })), settings)).resolves.toBeDefined();
    expect(await rejection(authenticate(bearer(await mintToken(keys, { expiresIn: -8 })), settings))).toBeInstanceOf(TokenRejected);
    expect(await rejection(authenticate(bearer(await mintToken(keys, { notBefore: 8 })), settings))).toBeInstanceOf(TokenRejected);
  });

  it('accepts a PEM given with literal \\n escapes, as env files hold it', async () => {
    const escaped = withEnv({ CLERK_JWT_KEY: keys.publicKeyPem.replace(/\n/g, '\\n'), CLERK_AUTHORIZED_PARTIES: ' a , b ' }, clerkSettingsFromEnv);
    expect(escaped.authorizedParties).toEqual(['a', 'b']);
    await expect(authenticate(bearer(await mintToken(keys, { azp: 'b' })), escaped)).resolves.toMatchObject({ userId: 'user_test' });
  });
});

it('keeps the logged reason of a refusal short and on one line, whatever the token holds', async () => {
  const error = await rejection(authenticate(bearer(await mintToken(keys, { azp: `https://evil.example/${'x'.repeat(10_000)}\nforged: line` })), { ...settings, authorizedParties: ['https://app.example'] }));
  expect(error).toBeInstanceOf(TokenRejected);
  const { reason } = error as TokenRejected;
  expect(reason.length).toBeLessThanOrEqual(200);
  expect(reason).not.toMatch(/[\r\n]/);
});

describe('authenticate: tokens without a usable organization answer 403', () => {
  it('refuses a valid token with no active organization', async () => {
    const error = await rejection(authenticate(bearer(await mintToken(keys, { org: null })), settings));
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ kind: 'forbidden', code: 'no_active_organization' });
  });

  it.each(['acme', 'org_', 'org_bad-id', 'ORG_abc', 'org_a#b', 'org_a__b', 'org_trailing_', 'org_a b'])('refuses the org id %p', async (org) => {
    const error = await rejection(authenticate(bearer(await mintToken(keys, { org })), settings));
    expect(error).toMatchObject({ kind: 'forbidden', code: 'invalid_organization' });
  });

  it('refuses a v1 token whose org_id is not a string', async () => {
    const token = await mintToken(keys, { org: null, extra: { org_id: 42 } });
    expect(await rejection(authenticate(bearer(token), settings))).toMatchObject({ code: 'invalid_organization' });
  });
});

it('fails closed when Clerk is not configured', async () => {
  await expect(authenticate(bearer(await mintToken(keys)), {})).rejects.toThrow(/CLERK_JWT_KEY, CLERK_SECRET_KEY or CLERK_SECRET_NAME/);
});
