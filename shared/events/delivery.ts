import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { env } from '../platform/env.js';
import type { QueuedEvent } from './schema.js';
import { signWebhook } from './signing.js';
import { guardedLookup, webhookUrlProblem } from './url-guard.js';
import type { WebhookSettings } from './webhook-settings.js';

/** A receiver has this long to answer, connection included. */
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** What is read of a receiver's answer (and then dropped). */
const MAX_ANSWER_BYTES = 16 * 1024;

/** What became of one try: delivered (2xx), or not, and why (for the logs: status or error, never content). */
export type DeliveryResult = { delivered: true; status: number } | { delivered: false; reason: string };

/**
 * POSTs one event to a webhook once, signed as Standard Webhooks says (`webhook-id`,
 * `webhook-timestamp`, `webhook-signature`). Only https URLs whose name resolves to public addresses
 * are called (locally, with `LOCAL_WEBHOOK_ALLOW_LOOPBACK`, http://127.0.0.1 too); a redirect is not
 * followed and counts as a failure, as does any answer but 2xx, a timeout (10 s) or a connection error.
 * @example await deliverOnce({ url: 'https://hooks.example/ai', secret: 'whsec_...' }, event)
 */
export async function deliverOnce(webhook: WebhookSettings, event: QueuedEvent, nowMs = Date.now()): Promise<DeliveryResult> {
  const allowLoopback = env.webhookAllowLoopback();
  const problem = webhookUrlProblem(webhook.url, allowLoopback);
  if (problem) return { delivered: false, reason: `the webhook URL is refused: ${problem}` };
  const body = JSON.stringify(event.body);
  const timestamp = Math.floor(nowMs / 1000);
  const url = new URL(webhook.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<DeliveryResult>((resolve) => {
    const req = send(
      url,
      {
        method: 'POST',
        lookup: guardedLookup(allowLoopback),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'ai-chat-webhooks/1',
          'webhook-id': event.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(webhook.secret, event.id, timestamp, body),
        },
        timeout: WEBHOOK_TIMEOUT_MS,
      },
      (res: IncomingMessage) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const status = res.statusCode ?? 0;
        const done = () => resolve(status >= 200 && status < 300 ? { delivered: true, status } : { delivered: false, reason: `the receiver answered ${status}` });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`)), WEBHOOK_TIMEOUT_MS);
    req.on('timeout', () => req.destroy(new Error(`no answer within ${WEBHOOK_TIMEOUT_MS / 1000} s`)));
    req.on('error', (error) => resolve({ delivered: false, reason: error.message }));
    req.on('close', () => clearTimeout(deadline));
    req.end(body);
  });
}
