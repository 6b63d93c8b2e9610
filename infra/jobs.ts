import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { ArnPrincipal, CfnRole, CompositePrincipal, PolicyDocument, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_SETTINGS, QUEUES, queueName, WORKER_TIMEOUT_SECONDS, type QueueDefinition, type QueueId } from '../shared/contract/queues.js';
import { WORKERS } from '../shared/contract/workers.js';
import { VARIABLES } from '../shared/platform/env.js';
import { SYSTEM_PROMPT_DEFINE } from '../shared/platform/system-prompt.js';
import { AppFunction, BUNDLING } from './api-function.js';
import type { StageSettings } from './stage.js';

export interface JobsProps {
  settings: StageSettings;
  table: ITableV2;
  environment: Record<string, string>;
}

/**
 * The job queues (each with its dead-letter queue) and their consumers, from shared/contract/queues.ts and
 * workers.ts: the same tables the local stack polls.
 */
export class Jobs extends Construct {
  readonly queues = {} as Record<QueueId, Queue>;
  readonly deadLetterQueues = {} as Record<QueueId, Queue>;
  readonly workers: AppFunction[] = [];
  /** The workers that answer jobs (with their timeout), and the dead-letter consumers. */
  readonly answering: Array<{ fn: AppFunction; timeoutSeconds: number }> = [];
  readonly deadLetterConsumers: AppFunction[] = [];
  /** The other consumers: the webhook delivery and the erasure (with their timeout). */
  readonly others: Array<{ fn: AppFunction; timeoutSeconds: number }> = [];
  /** The role the answering workers take, tagged with an organization, to read that organization's secret only. */
  readonly tenantSecretsRole: Role;

  constructor(scope: Construct, id: string, props: JobsProps) {
    super(scope, id);
    const { settings } = props;
    const removal = settings.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    for (const definition of Object.values(QUEUES) as QueueDefinition[]) {
      const deadLetter = new Queue(this, `${definition.id}DeadLetters`, {
        queueName: queueName(settings.stage, definition, true),
        fifo: definition.fifo || undefined,
        retentionPeriod: Duration.seconds(QUEUE_SETTINGS.deadLetterRetentionSeconds),
        // Its consumer runs as long as a worker does.
        visibilityTimeout: Duration.seconds(QUEUE_SETTINGS.visibilityTimeoutSeconds),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      this.deadLetterQueues[definition.id] = deadLetter;
      this.queues[definition.id] = new Queue(this, `${definition.id}Queue`, {
        queueName: queueName(settings.stage, definition),
        fifo: definition.fifo || undefined,
        visibilityTimeout: Duration.seconds(definition.visibilityTimeoutSeconds ?? QUEUE_SETTINGS.visibilityTimeoutSeconds),
        ...(definition.retentionSeconds ? { retentionPeriod: Duration.seconds(definition.retentionSeconds) } : {}),
        deadLetterQueue: { queue: deadLetter, maxReceiveCount: definition.maxReceiveCount ?? QUEUE_SETTINGS.maxReceiveCount },
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
    }

    const orgSecrets = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${settings.orgSecretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    for (const worker of WORKERS) {
      const queue = worker.deadLetter ? this.deadLetterQueues[worker.queue] : this.queues[worker.queue];
      const answers = worker.purpose === 'answer';
      const timeoutSeconds = worker.timeoutSeconds ?? WORKER_TIMEOUT_SECONDS;
      const fn = new AppFunction(this, worker.name, {
        entry: worker.entry,
        serviceName: 'ai-chat-worker',
        timeout: Duration.seconds(timeoutSeconds),
        memorySize: worker.memoryMb,
        // The stage's system prompt is built into the answering workers' bundles, not put in an
        // environment variable (4 KB per function at most) of every function.
        ...(settings.systemPrompt && answers
          ? { bundling: { define: { ...BUNDLING.define, [SYSTEM_PROMPT_DEFINE]: JSON.stringify(settings.systemPrompt) } } }
          : {}),
        logRetention: settings.logRetentionDays,
        logRemovalPolicy: removal,
        environment: {
          ...props.environment,
          ...(worker.table === 'none' ? {} : { [VARIABLES.tableName]: props.table.tableName }),
          // A worker that retries later changes the visibility of its own queue's messages.
          ...(worker.deadLetter ? {} : { [VARIABLES[QUEUES[worker.queue].urlVariable]]: queue.queueUrl }),
          // The delivery reads the organizations' webhook secrets, named after their settings secrets.
          ...(answers || worker.purpose === 'deliver' ? { [VARIABLES.orgSecretPrefix]: settings.orgSecretPrefix } : {}),
          ...(answers ? { [VARIABLES.orgMaxInFlight]: String(settings.orgMaxInFlight) } : {}),
          ...(worker.publishesEvents ? { [VARIABLES.webhookQueueUrl]: this.queues.webhooks.queueUrl } : {}),
        },
      });
      fn.grantTable(props.table, worker.table);
      // An answering worker puts a job it had no time to try back on its own queue (shared/jobs/job-queue.ts);
      // an erasure pass queues the pass after it.
      if (answers || worker.purpose === 'erase') queue.grantSendMessages(fn);
      if (worker.publishesEvents) this.queues.webhooks.grantSendMessages(fn);
      if (worker.purpose === 'deliver') {
        // The webhook secrets only (`<prefix><org>/webhook`), never the organizations' model keys.
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['secretsmanager:GetSecretValue'],
            resources: [Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${settings.orgSecretPrefix}*/webhook-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
          }),
        );
      }
      fn.addEventSource(
        new SqsEventSource(queue, {
          batchSize: QUEUE_SETTINGS.batchSize,
          reportBatchItemFailures: true,
          maxConcurrency: answers ? settings.workerMaxConcurrency : worker.maxConcurrency,
        }),
      );
      this.workers.push(fn);
      if (worker.purpose === 'dead-letters') this.deadLetterConsumers.push(fn);
      else if (answers) this.answering.push({ fn, timeoutSeconds });
      else this.others.push({ fn, timeoutSeconds });
    }

    // Attribute-based access to the organizations' keys: the workers' own roles read no secret; they
    // take this role with the session tag org=<orgId>, and it reads only the secrets tagged with that
    // same org. A bug or a compromised dependency in a worker cannot read another tenant's key.
    const readers = this.answering.map(({ fn }) => fn.role!);
    this.tenantSecretsRole = new Role(this, 'TenantSecretsRole', {
      description: `ai-chat ${settings.stage}: reads the secret of the organization its session is tagged with`,
      assumedBy: new CompositePrincipal(...readers.map((role) => new ArnPrincipal(role.roleArn))),
      maxSessionDuration: Duration.hours(1),
    });
    // Only the answering workers, and only with one session tag, org, naming an organization.
    (this.tenantSecretsRole.node.defaultChild as CfnRole).assumeRolePolicyDocument = new PolicyDocument({
      statements: [
        new PolicyStatement({
          principals: readers.map((role) => new ArnPrincipal(role.roleArn)),
          actions: ['sts:AssumeRole', 'sts:TagSession'],
          conditions: { StringLike: { 'aws:RequestTag/org': 'org_*' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['org'] } },
        }),
      ],
    });
    this.tenantSecretsRole.addToPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [orgSecrets],
        conditions: { StringEquals: { 'secretsmanager:ResourceTag/org': '${aws:PrincipalTag/org}' } },
      }),
    );
    for (const { fn } of this.answering) {
      fn.addEnvironment(VARIABLES.tenantSecretsRoleArn, this.tenantSecretsRole.roleArn);
      fn.addToRolePolicy(new PolicyStatement({ actions: ['sts:AssumeRole', 'sts:TagSession'], resources: [this.tenantSecretsRole.roleArn] }));
    }
  }
}
