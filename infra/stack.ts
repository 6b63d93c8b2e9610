import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { ROUTES } from '../shared/routes.js';
import { AppFunction, LOG_RETENTION } from './api-function.js';
import { Jobs } from './jobs.js';
import { ChatTable } from './table.js';
import type { StageSettings } from './stage.js';

export interface ChatStackProps extends StackProps {
  settings: StageSettings;
}

/** One stage of the API: the table, the HTTP API and one Lambda per route of shared/routes.ts. */
export class ChatStack extends Stack {
  constructor(scope: Construct, id: string, props: ChatStackProps) {
    super(scope, id, props);
    const { settings } = props;
    const { table } = new ChatTable(this, 'Data', { protect: settings.protect });
    const environment = {
      STAGE: settings.stage,
      ...(settings.systemPrompt ? { AI_SYSTEM_PROMPT: settings.systemPrompt } : {}),
      ORG_RATE_LIMIT_PER_MINUTE: String(settings.rateLimitPerMinute),
    };
    const jobs = new Jobs(this, 'Jobs', {
      stage: settings.stage,
      table,
      orgSecretPrefix: settings.orgSecretPrefix,
      environment,
    });

    const api = new HttpApi(this, 'Api', {
      apiName: `ai-chat-${settings.stage}`,
      corsPreflight: settings.corsOrigins.length
        ? {
            allowOrigins: settings.corsOrigins,
            allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PATCH, CorsHttpMethod.DELETE],
            allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
          }
        : undefined,
    });

    for (const route of ROUTES) {
      const fn = new AppFunction(this, route.name, {
        entry: route.entry,
        serviceName: 'ai-chat-api',
        logGroup: new LogGroup(this, `${route.name}Logs`, { retention: LOG_RETENTION }),
        environment: {
          ...environment,
          TABLE_NAME: table.tableName,
          ...settings.clerkEnvironment,
          ...(route.enqueues === 'ask' ? { ASK_QUEUE_URL: jobs.queues.ask.queueUrl } : {}),
          ...(route.enqueues === 'ctx' ? { CTX_QUEUE_URL: jobs.queues.ctx.queueUrl } : {}),
        },
      });
      table.grantReadWriteData(fn);
      if (route.enqueues) jobs.queues[route.enqueues].grantSendMessages(fn);
      const integration = new HttpLambdaIntegration(`${route.name}Integration`, fn);
      if (route.path === '$default') {
        api.addRoutes({ path: '/{proxy+}', methods: [HttpMethod.ANY], integration });
      } else {
        api.addRoutes({ path: route.path, methods: [HttpMethod[route.method as keyof typeof HttpMethod]], integration });
      }
    }

    new CfnOutput(this, 'ApiUrl', { value: api.apiEndpoint });
    new CfnOutput(this, 'TableName', { value: table.tableName });
  }
}
