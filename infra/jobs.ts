import { Duration } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_SETTINGS, QUEUES, queueName, WORKER_TIMEOUT_SECONDS, type QueueDefinition } from '../shared/queues.js';
import { WORKERS } from '../shared/workers.js';
import { AppFunction, LOG_RETENTION } from './api-function.js';

export interface JobsProps {
  stage: string;
  table: ITableV2;
  /** Secrets Manager name prefix of the per-organization secrets, e.g. `ai-chat/prod/orgs/`. */
  orgSecretPrefix: string;
  environment: Record<string, string>;
}

/**
 * The job queues (each with its dead-letter queue) and their consumers, from shared/queues.ts and
 * shared/workers.ts: the same tables the local stack polls.
 */
export class Jobs extends Construct {
  readonly queues = {} as Record<QueueDefinition['id'], Queue>;
  readonly deadLetterQueues = {} as Record<QueueDefinition['id'], Queue>;
  readonly workers: AppFunction[] = [];

  constructor(scope: Construct, id: string, props: JobsProps) {
    super(scope, id);
    for (const definition of QUEUES) {
      const deadLetter = new Queue(this, `${definition.id}DeadLetters`, {
        queueName: queueName(props.stage, definition, true),
        fifo: definition.fifo || undefined,
        retentionPeriod: Duration.seconds(QUEUE_SETTINGS.deadLetterRetentionSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      this.deadLetterQueues[definition.id] = deadLetter;
      this.queues[definition.id] = new Queue(this, `${definition.id}Queue`, {
        queueName: queueName(props.stage, definition),
        fifo: definition.fifo || undefined,
        visibilityTimeout: Duration.seconds(QUEUE_SETTINGS.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: deadLetter, maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount },
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
    }

    const secretsArn = `arn:aws:secretsmanager:*:*:secret:${props.orgSecretPrefix}*`;
    for (const worker of WORKERS) {
      const queue = worker.deadLetter ? this.deadLetterQueues[worker.queue] : this.queues[worker.queue];
      const fn = new AppFunction(this, worker.name, {
        entry: worker.entry,
        serviceName: 'ai-chat-worker',
        timeout: Duration.seconds(WORKER_TIMEOUT_SECONDS),
        memorySize: 1024,
        logGroup: new LogGroup(this, `${worker.name}Logs`, { retention: LOG_RETENTION }),
        environment: {
          ...props.environment,
          TABLE_NAME: props.table.tableName,
          ASK_QUEUE_URL: this.queues.ask.queueUrl,
          CTX_QUEUE_URL: this.queues.ctx.queueUrl,
          ORG_SECRET_PREFIX: props.orgSecretPrefix,
        },
      });
      props.table.grantReadWriteData(fn);
      fn.addEventSource(
        new SqsEventSource(queue, {
          batchSize: QUEUE_SETTINGS.batchSize,
          reportBatchItemFailures: true,
          maxConcurrency: worker.maxConcurrency,
        }),
      );
      if (!worker.deadLetter) {
        // Only the answering workers read organizations' keys, and only under their prefix.
        fn.addToRolePolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secretsArn] }));
      }
      this.workers.push(fn);
    }
  }
}
