import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createSqsServer } from 'local-aws-sqs';
import type { AddressInfo } from 'node:net';
import { QUEUE_SETTINGS, QUEUES, queueName, type QueueDefinition, type QueueId } from '../../shared/contract/queues.js';
import { countRequests, localCredentials } from './aws.js';

export interface LocalQueue {
  definition: QueueDefinition;
  url: string;
  arn: string;
  deadLetterUrl: string;
  deadLetterArn: string;
}

export interface LocalSqs {
  endpoint: string;
  client: SQSClient;
  queues: Record<QueueId, LocalQueue>;
  /** Requests served so far, by operation (e.g. `SendMessage`). */
  requestCounts: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Starts local-aws-sqs in this process with the stack's queues: each queue with its dead-letter
 * queue and the same redrive policy. `visibilityTimeoutSeconds` can be shortened for tests.
 */
export async function startLocalSqs(options: { stage: string; visibilityTimeoutSeconds?: number }): Promise<LocalSqs> {
  const server = await createSqsServer({
    port: 0,
    hostname: '127.0.0.1',
    emulateQueueCreationLifecycle: false,
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const requestCounts = countRequests(server);
  const client = new SQSClient({ endpoint, ...localCredentials });
  const visibility = options.visibilityTimeoutSeconds ?? QUEUE_SETTINGS.visibilityTimeoutSeconds;
  const queues = {} as Record<QueueId, LocalQueue>;
  for (const definition of Object.values(QUEUES)) {
    const fifoAttributes: Record<string, string> = definition.fifo ? { FifoQueue: 'true' } : {};
    const deadLetterUrl = await createQueue(client, queueName(options.stage, definition, true), {
      ...fifoAttributes,
      MessageRetentionPeriod: String(QUEUE_SETTINGS.deadLetterRetentionSeconds),
    });
    const deadLetterArn = await arnOf(client, deadLetterUrl);
    const queue: QueueDefinition = definition;
    const url = await createQueue(client, queueName(options.stage, definition), {
      ...fifoAttributes,
      VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? queue.visibilityTimeoutSeconds ?? visibility),
      ...(queue.retentionSeconds ? { MessageRetentionPeriod: String(queue.retentionSeconds) } : {}),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount: queue.maxReceiveCount ?? QUEUE_SETTINGS.maxReceiveCount }),
    });
    queues[definition.id] = { definition, url, arn: await arnOf(client, url), deadLetterUrl, deadLetterArn };
  }
  return {
    endpoint,
    client,
    queues,
    requestCounts,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function createQueue(client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return QueueUrl!;
}

async function arnOf(client: SQSClient, url: string): Promise<string> {
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return Attributes!.QueueArn!;
}
