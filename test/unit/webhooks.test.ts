/**
 * Webhook signing against the Standard Webhooks specification's published test vector and its
 * maintained verifier (the `standardwebhooks` package), and the URL and address checks.
 */
import { Webhook } from 'standardwebhooks';
import { signWebhook, WEBHOOK_SECRET_PATTERN } from '../../shared/events/signing.js';
import { guardedLookup, isAllowedAddress, webhookUrlProblem } from '../../shared/events/url-guard.js';

describe('signWebhook', () => {
  it("matches the specification's test vector", () => {
    // standard-webhooks/standard-webhooks, spec and libraries' tests.
    expect(signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('is what the maintained verifier accepts, and a changed body or id is refused', () => {
    const secret = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
    const body = JSON.stringify({ type: 'message.completed', timestamp: new Date().toISOString(), data: { message_id: 'x', content: 'Ünïcode ✓' } });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'webhook-id': 'evt_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(secret, 'evt_1', timestamp, body) };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('x', 'y'), headers)).toThrow();
    expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'evt_2' })).toThrow();
    expect(WEBHOOK_SECRET_PATTERN.test(secret)).toBe(true);
    expect(WEBHOOK_SECRET_PATTERN.test('not-a-secret')).toBe(false);
  });
});

describe('webhook URLs and addresses', () => {
  it('calls only https URLs to public addresses in AWS', () => {
    expect(webhookUrlProblem('https://hooks.example.com/ai', false)).toBeUndefined();
    expect(webhookUrlProblem('https://93.184.216.34/ai', false)).toBeUndefined();
    expect(webhookUrlProblem('http://hooks.example.com/ai', false)).toMatch(/https/);
    expect(webhookUrlProblem('http://127.0.0.1:8080/', false)).toMatch(/https/);
    expect(webhookUrlProblem('https://user:pass@hooks.example.com/', false)).toMatch(/password/);
    expect(webhookUrlProblem('not a url', false)).toMatch(/not a URL/);
    for (const host of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '[::1]', '[fd00:ec2::254]', '[fe80::1]', '[::ffff:10.0.0.1]', '[64:ff9b::a00:1]']) {
      expect(webhookUrlProblem(`https://${host}/`, false)).toMatch(/not a public address/);
    }
  });

  it('allows http://127.0.0.1 and localhost locally, and still no private network', () => {
    expect(webhookUrlProblem('http://127.0.0.1:8080/hook', true)).toBeUndefined();
    expect(webhookUrlProblem('http://localhost:8080/hook', true)).toBeUndefined();
    expect(webhookUrlProblem('http://10.0.0.5/hook', true)).toMatch(/https/);
    expect(isAllowedAddress('10.0.0.5', true)).toBe(false);
    expect(isAllowedAddress('127.0.0.1', true)).toBe(true);
    expect(isAllowedAddress('8.8.8.8', false)).toBe(true);
    expect(isAllowedAddress('2606:4700:4700::1111', false)).toBe(true);
  });

  it('refuses, at connection time, a name that resolves to a private address', async () => {
    const resolve = (allowLoopback: boolean) =>
      new Promise<{ error: (Error & { code?: string }) | null; address: unknown }>((done) =>
        guardedLookup(allowLoopback)('localhost', {}, (error, address) => done({ error: error as (Error & { code?: string }) | null, address })),
      );
    const refused = await resolve(false);
    expect(refused.error?.code).toBe('EWEBHOOKADDRESS');
    expect(refused.error?.message).toMatch(/not a public address/);
    const allowed = await resolve(true);
    expect(allowed.error).toBeNull();
    expect(['127.0.0.1', '::1']).toContain(allowed.address);
  });
});

describe('deliverOnce', () => {
  it('follows no redirect: a 3xx is a failed try, and its Location is never called', async () => {
    const { createServer } = await import('node:http');
    const { deliverOnce } = await import('../../shared/events/delivery.js');
    let elsewhereCalled = false;
    const elsewhere = createServer((_req, res) => ((elsewhereCalled = true), res.end('ok')));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(elsewhere.address() as { port: number }).port}/`;
    const redirecting = createServer((_req, res) => res.writeHead(302, { Location: target }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    const saved = process.env.LOCAL_WEBHOOK_ALLOW_LOOPBACK;
    process.env.LOCAL_WEBHOOK_ALLOW_LOOPBACK = '1';
    try {
      const result = await deliverOnce(
        { url: `http://127.0.0.1:${(redirecting.address() as { port: number }).port}/hook`, secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD' },
        { id: 'evt_1', org_id: 'org_x', body: { type: 'message.completed', timestamp: new Date().toISOString(), data: { org_id: 'org_x' } } } as never,
      );
      expect(result).toEqual({ delivered: false, reason: 'the receiver answered 302' });
      expect(elsewhereCalled).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.LOCAL_WEBHOOK_ALLOW_LOOPBACK;
      else process.env.LOCAL_WEBHOOK_ALLOW_LOOPBACK = saved;
      redirecting.close();
      elsewhere.close();
    }
  });
});
