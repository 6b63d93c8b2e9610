import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Alarms } from './alarms.js';
import { ChatApi } from './api.js';
import { ChatFront } from './front.js';
import { Jobs } from './jobs.js';
import type { StageSettings } from './stage.js';
import { ChatTable } from './chat-table.js';
import { FrontWebAcl } from './web-acl.js';
import { VARIABLES } from '../shared/platform/env.js';

export interface ChatStackProps extends StackProps {
  settings: StageSettings;
  /** The front's web ACL when it lives in another stack (us-east-1); made here when the stage is in us-east-1. */
  webAclArn?: string;
}

/** One stage of the service: the table, the job queues and workers, the HTTP API, its front and the alarms. */
export class ChatStack extends Stack {
  readonly table: ChatTable;
  readonly jobs: Jobs;
  readonly api: ChatApi;
  readonly front: ChatFront;
  readonly alarms: Alarms;

  constructor(scope: Construct, id: string, props: ChatStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.table = new ChatTable(this, 'Data', { protect: settings.protect });
    const environment = {
      [VARIABLES.stage]: settings.stage,
      [VARIABLES.orgRateLimitPerMinute]: String(settings.rateLimitPerMinute),
      [VARIABLES.orgReadRateLimitPerMinute]: String(settings.readRateLimitPerMinute),
    };
    this.jobs = new Jobs(this, 'Jobs', { settings, table: this.table.table, environment });
    this.api = new ChatApi(this, 'Http', { settings, table: this.table.table, queues: this.jobs.queues, environment });
    const webAclArn = props.webAclArn ?? new FrontWebAcl(this, 'FrontWebAcl', { stage: settings.stage, requestsPerIp: settings.wafRequestsPerIp }).acl.attrArn;
    this.front = new ChatFront(this, 'Front', { api: this.api.api, apiOrigin: this.api.originDomain, streams: this.api.streams, webAclArn, corsOrigins: settings.corsOrigins });
    this.alarms = new Alarms(this, 'Alarms', {
      stage: settings.stage,
      protect: settings.protect,
      api: this.api.api,
      accessLogs: this.api.accessLogs,
      apiFunctions: this.api.functions,
      streamFunctions: this.api.streams.map((stream) => stream.fn),
      workers: [...this.jobs.answering, ...this.jobs.others],
      deadLetterConsumers: this.jobs.deadLetterConsumers,
      // Webhook events wait hours between tries by design: their age is no alarm, their dead letters are.
      jobQueues: [this.jobs.queues.ask, this.jobs.queues.ctx, this.jobs.queues.erasure],
      deadLetterQueues: [this.jobs.deadLetterQueues.ask, this.jobs.deadLetterQueues.ctx],
      eventDeadLetterQueue: this.jobs.deadLetterQueues.webhooks,
      erasureDeadLetterQueue: this.jobs.deadLetterQueues.erasure,
      table: this.table.table,
      email: settings.alarmEmail,
    });

    new CfnOutput(this, 'ApiUrl', {
      value: `https://${this.front.distribution.distributionDomainName}/openai`,
      description: 'Point clients here (the base path is /openai): every route, the streams included.',
    });
    if (settings.apiDomainName) {
      new CfnOutput(this, 'ApiOriginTarget', {
        value: this.api.originTarget!,
        description: `Point ${settings.apiDomainName} here (a CNAME): the front reaches the HTTP API through that domain only.`,
      });
    } else {
      new CfnOutput(this, 'HttpApiUrl', { value: `${this.api.api.apiEndpoint}/openai`, description: 'The HTTP API itself: every route but the streams.' });
    }
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The stage\u2019s table (npm run org finds it by its name, or takes it with --table).' });
    new CfnOutput(this, 'AlarmTopic', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'OrgSecretPrefix', { value: settings.orgSecretPrefix, description: 'npm run org -- set <org> --stage <stage> writes here.' });
  }
}
