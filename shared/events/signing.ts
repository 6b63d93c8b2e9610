import { createHmac } from 'node:crypto';

/** A webhook secret as the contract gives it: `whsec_` and the base64 of the key. */
export const WEBHOOK_SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{24,}={0,2}$/;

/**
 * The `webhook-signature` header of Standard Webhooks: `v1,` and the base64 HMAC-SHA256, keyed with
 * the secret's base64-decoded part after `whsec_`, of `<webhook-id>.<webhook-timestamp>.<body>`.
 * @example signWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')
 * // 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}
