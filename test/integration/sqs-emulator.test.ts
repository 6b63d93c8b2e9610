/**
 * What the local stack's SQS emulator must do as SQS does for the workers' retries to behave as in
 * AWS: a ChangeMessageVisibility is not a receive (local-aws-sqs 2.0.2 counted it as one until
 * bin/tools/fix-local-aws-sqs.mjs, run on install); a message reaches its dead-letter queue after
 * maxReceiveCount receives.
 */
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startLocalSqs, type LocalSqs } from '../../bin/local/sqs.js';
import { QUEUES } from '../../shared/contract/queues.js';

let sqs: LocalSqs;
beforeAll(async () => {
  sqs = await startLocalSqs({ stage: 'emulator', visibilityTimeoutSeconds: 5 });
});
afterAll(async () => sqs?.close());

it('counts receives only, and moves a message to the dead-letter queue after maxReceiveCount of them', async () => {
  const { url, deadLetterUrl } = sqs.queues.webhooks;
  const maxReceiveCount = QUEUES.webhooks.maxReceiveCount;
  await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'retry me' }));
  const counts: number[] = [];
  for (let receive = 1; receive <= maxReceiveCount; receive++) {
    const { Messages = [] } = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 3, AttributeNames: ['All'] }));
    expect(Messages).toHaveLength(1);
    counts.push(Number(Messages[0]!.Attributes!.ApproximateReceiveCount));
    await sqs.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: Messages[0]!.ReceiptHandle, VisibilityTimeout: 0 }));
  }
  expect(counts).toEqual(Array.from({ length: maxReceiveCount }, (_, index) => index + 1));
  let moved = 0;
  for (let i = 0; i < 50 && !moved; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { Attributes } = await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    moved = Number(Attributes?.ApproximateNumberOfMessages ?? 0);
  }
  expect(moved).toBe(1);
}, 30_000);
