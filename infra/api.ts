import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { ApiMapping, CorsHttpMethod, DomainName, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type CfnStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, HttpMethod as UrlMethod, InvokeMode, ParamsAndSecretsLayerVersion, ParamsAndSecretsVersions, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Fn } from 'aws-cdk-lib';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUES, type QueueId } from '../shared/contract/queues.js';
import { ROUTES, routeKey, type RouteDefinition } from '../shared/contract/routes.js';
import { VARIABLES } from '../shared/platform/env.js';
import { AppFunction } from './api-function.js';
import type { StageSettings } from './stage.js';

export interface ChatApiProps {
  settings: StageSettings;
  table: ITableV2;
  queues: Record<QueueId, Queue>;
  environment: Record<string, string>;
}

/**
 * The HTTP API: one small Lambda per route of shared/contract/routes.ts (the local gateway serves the same
 * table), each with only the table access and queue it needs, behind a throttled, access-logged stage.
 */
export class ChatApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly functions: AppFunction[] = [];
  /** The stream routes' functions and function URLs (response streaming), which the front (infra/front.ts) routes to. */
  readonly streams: Array<{ route: RouteDefinition; url: FunctionUrl; fn: AppFunction }> = [];
  /** The stage's access log. */
  readonly accessLogs: LogGroup;
  /** The host the front calls: the API's custom domain when one is set (the execute-api endpoint is then off), else its endpoint's host. */
  readonly originDomain: string;
  /** Where the custom domain's DNS name must point (its regional API Gateway domain), when one is set. */
  readonly originTarget?: string;

  constructor(scope: Construct, id: string, props: ChatApiProps) {
    super(scope, id);
    const { settings } = props;
    const removal = settings.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.api = new HttpApi(this, 'Api', {
      apiName: `ai-chat-${settings.stage}`,
      createDefaultStage: false,
      // With a custom domain, only the front (through that domain) reaches the API.
      disableExecuteApiEndpoint: Boolean(settings.apiDomainName),
      corsPreflight: settings.corsOrigins.length
        ? {
            allowOrigins: settings.corsOrigins,
            allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.PATCH, CorsHttpMethod.DELETE],
            allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
            exposeHeaders: ['retry-after', 'x-request-id', 'idempotent-replayed'],
            maxAge: Duration.minutes(10),
          }
        : undefined,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: settings.logRetentionDays, removalPolicy: removal });
    this.accessLogs = accessLogs;
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // JSON, with the status a number (the 429 alarm's metric filter compares it as one).
        format: AccessLogFormat.custom(
          `{"requestId":"$context.requestId","stage":${JSON.stringify(settings.stage)},"routeKey":"$context.routeKey",` +
            `"status":$context.status,"latencyMs":"$context.responseLatency","integrationLatencyMs":"$context.integrationLatency",` +
            `"error":$context.error.messageString,"integrationError":"$context.integrationErrorMessage",` +
            // Behind the front, the address CloudFront called from; the client's is in the WAF's logs.
            `"ip":"$context.identity.sourceIp"}`,
        ),
      },
    });

    const clerk: Record<string, string> = {
      ...(settings.clerkJwtKey ? { [VARIABLES.clerkJwtKey]: settings.clerkJwtKey } : {}),
      ...(settings.clerkSecretName ? { [VARIABLES.clerkSecretName]: settings.clerkSecretName } : {}),
      ...(settings.clerkAuthorizedParties.length ? { [VARIABLES.clerkAuthorizedParties]: settings.clerkAuthorizedParties.join(',') } : {}),
    };
    for (const route of ROUTES) {
      const readsClerkSecret = Boolean(settings.clerkSecretName) && route.table !== 'none';
      const fn = new AppFunction(this, route.name, {
        entry: route.entry,
        serviceName: 'ai-chat-api',
        // The Clerk secret key is read through the Parameters and Secrets extension (shared/auth/clerk.ts).
        ...(readsClerkSecret ? { paramsAndSecrets: ParamsAndSecretsLayerVersion.fromVersion(ParamsAndSecretsVersions.V1_0_103, { cacheSize: 10 }) } : {}),
        ...(route.timeoutSeconds ? { timeout: Duration.seconds(route.timeoutSeconds) } : {}),
        logRetention: settings.logRetentionDays,
        logRemovalPolicy: removal,
        environment: {
          ...props.environment,
          ...(route.table === 'none' ? {} : { [VARIABLES.tableName]: props.table.tableName, ...clerk }),
          ...(route.enqueues ? { [VARIABLES[QUEUES[route.enqueues].urlVariable]]: props.queues[route.enqueues].queueUrl } : {}),
          ...(route.publishesEvents ? { [VARIABLES.webhookQueueUrl]: props.queues.webhooks.queueUrl } : {}),
        },
      });
      fn.grantTable(props.table, route.table);
      if (route.enqueues) props.queues[route.enqueues].grantSendMessages(fn);
      if (route.publishesEvents) props.queues.webhooks.grantSendMessages(fn);
      if (readsClerkSecret) {
        fn.addToRolePolicy(
          new PolicyStatement({
            actions: ['secretsmanager:GetSecretValue'],
            // Secrets Manager adds six random characters to a secret's ARN.
            resources: [Stack.of(this).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${settings.clerkSecretName}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
          }),
        );
      }
      this.functions.push(fn);
      if (route.stream) {
        // An HTTP API cannot stream a response: a stream route is a function URL in response-streaming
        // mode, under the API's base URL through the front (docs/decisions/0001-streams-front.md). Only
        // the front may call it (IAM, signed by CloudFront's origin access control); it verifies the
        // Clerk token itself, as every route does.
        const url = fn.addFunctionUrl({
          authType: FunctionUrlAuthType.AWS_IAM,
          invokeMode: InvokeMode.RESPONSE_STREAM,
          cors: settings.corsOrigins.length
            ? { allowedOrigins: settings.corsOrigins, allowedMethods: [UrlMethod.GET], allowedHeaders: ['authorization', 'last-event-id'], exposedHeaders: ['x-request-id'] }
            : undefined,
        });
        this.streams.push({ route, url, fn });
        continue;
      }
      const integration = new HttpLambdaIntegration(`${route.name}Integration`, fn);
      if (route.path === '$default') {
        this.api.addRoutes({ path: '/{proxy+}', methods: [HttpMethod.ANY], integration });
      } else {
        const [added] = this.api.addRoutes({ path: route.path, methods: [HttpMethod[route.method as keyof typeof HttpMethod]], integration });
        this.stage.node.addDependency(added!);
      }
    }

    // The routes that start model calls get throttles of their own, below the stage's: a flood of
    // asks cannot use up the whole stage's rate.
    const jobRoutes = ROUTES.filter((route) => route.enqueues);
    (this.stage.node.defaultChild as CfnStage).addPropertyOverride(
      'RouteSettings',
      Object.fromEntries(
        jobRoutes.map((route) => [routeKey(route), { ThrottlingRateLimit: settings.jobRouteRateLimit, ThrottlingBurstLimit: settings.jobRouteRateLimit * 2 }]),
      ),
    );

    if (settings.apiDomainName && settings.apiCertificateArn) {
      const domain = new DomainName(this, 'OriginDomain', {
        domainName: settings.apiDomainName,
        certificate: Certificate.fromCertificateArn(this, 'OriginCertificate', settings.apiCertificateArn),
      });
      new ApiMapping(this, 'OriginMapping', { api: this.api, domainName: domain, stage: this.stage });
      this.originDomain = settings.apiDomainName;
      this.originTarget = domain.regionalDomainName;
    } else {
      // The HTTP API's host, from its endpoint `https://<id>.execute-api.<region>.amazonaws.com`.
      this.originDomain = Fn.select(2, Fn.split('/', this.api.apiEndpoint));
    }
  }
}
