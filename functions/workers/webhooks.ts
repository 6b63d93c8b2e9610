import { webhookWorker } from '../../shared/events/webhook-worker.js';

/** Consumer of the webhooks queue: signs and POSTs each finished answer's or task's event to its organization's webhook. */
export const handler = webhookWorker();
