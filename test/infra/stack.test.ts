import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { buildApp } from '../../infra/build-app.js';
import { stageSettings } from '../../infra/stage.js';
import { QUEUE_SETTINGS, WEBHOOK_RETRY_SECONDS, WORKER_TIMEOUT_SECONDS } from '../../shared/contract/queues.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { ROUTES, routeKey } from '../../shared/contract/routes.js';
import { createTableInput } from '../../shared/store/table.js';
import { makeKeys } from '../../bin/local/tokens.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

const jwtKey = makeKeys().publicKeyPem;
/** The context the CDK CLI reads from cdk.json (dev asks for no protection there). */
const CDK_JSON_CONTEXT = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
/** Where a protected stage is pinned in these tests. */
const PINNED = { account: '123456789012', region: 'us-east-1' };

/**
 * The stack of a stage, as `cdk synth` makes it, cdk-nag included (a finding not acknowledged makes
 * `synth()` throw). Bundling is skipped here: test/infra/bundles.test.ts builds every bundle.
 */
function synth(context: Record<string, unknown>, env: NodeJS.ProcessEnv = { CLERK_JWT_KEY: jwtKey }) {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = buildApp(app, env);
  const assembly = app.synth();
  return { template: Template.fromStack(stack), stack, stacks: assembly.stacks.map((artifact) => artifact.stackName) };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };
type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

/** Every IAM statement of the stack, by the logical id of the function whose role holds it. */
function statementsByFunction(template: Template): Map<string, Statement[]> {
  const roles = template.findResources('AWS::IAM::Role');
  const functions = template.findResources('AWS::Lambda::Function');
  const owner = (roleId: string) =>
    Object.entries(functions).find(([, fn]) => JSON.stringify(fn.Properties.Role).includes(`"${roleId}"`))?.[0] ?? roleId;
  const byFunction = new Map<string, Statement[]>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    for (const { Ref } of policy.Properties.Roles as Array<{ Ref: string }>) {
      if (!roles[Ref]) continue;
      const name = owner(Ref);
      byFunction.set(name, [...(byFunction.get(name) ?? []), ...policy.Properties.PolicyDocument.Statement]);
    }
  }
  return byFunction;
}

const actionsOf = (statements: Statement[] = []) => statements.flatMap((statement) => [statement.Action].flat());
const functionId = (template: Template, name: string) =>
  Object.keys(template.findResources('AWS::Lambda::Function')).find((id) => new RegExp(`^(Http|Jobs)${name}[0-9A-F]{8}$`).test(id))!;

describe('the stack', () => {
  let dev: Template;
  let prod: Template;
  let prodStack: Stack;
  beforeAll(() => {
    dev = synth({ stage: 'dev' }).template;
    ({ template: prod, stack: prodStack } = synth({ stage: 'prod', alarmEmail: 'oncall@example.com', ...PINNED }));
  }, 120_000);

  it('deploys the table the local stack creates, from the same definition', () => {
    const local = createTableInput('x');
    dev.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      KeySchema: local.KeySchema,
      AttributeDefinitions: Match.arrayWith(local.AttributeDefinitions!.map((definition) => Match.objectLike(definition))),
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: local.GlobalSecondaryIndexes![0]!.IndexName,
          KeySchema: local.GlobalSecondaryIndexes![0]!.KeySchema,
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
  });

  it('keeps prod data: point-in-time recovery, deletion protection, RETAIN; dev can be torn down', () => {
    const table = (template: Template) => Object.values(template.findResources('AWS::DynamoDB::GlobalTable'))[0] as Resource;
    expect(table(prod).DeletionPolicy).toBe('Retain');
    expect(table(prod).Properties.Replicas[0]).toMatchObject({
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
    expect(table(dev).DeletionPolicy).toBe('Delete');
    expect(table(dev).Properties.Replicas[0].DeletionProtectionEnabled).toBe(false);
    expect(prodStack.terminationProtection).toBe(true);
    const logPolicies = (template: Template) =>
      new Set(Object.values(template.findResources('AWS::Logs::LogGroup')).map((group) => (group as Resource).DeletionPolicy));
    expect(logPolicies(prod)).toEqual(new Set(['Retain']));
    expect(logPolicies(dev)).toEqual(new Set(['Delete']));
  });

  it('has every route of the route table but the streams (an HTTP API cannot stream), and no other', () => {
    const routes = Object.values(dev.findResources('AWS::ApiGatewayV2::Route')).map((resource) => resource.Properties.RouteKey);
    const expected = ROUTES.filter((route) => !route.stream).map((route) => (route.path === '$default' ? 'ANY /{proxy+}' : routeKey(route)));
    expect(ROUTES.filter((route) => route.stream).map((route) => route.name)).toEqual(['StreamMessage', 'StreamTask']);
    expect(routes.sort()).toEqual(expected.sort());
  });

  it('serves every route under one base URL: a CloudFront front to the HTTP API, the streams to response-streaming function URLs', () => {
    const urls = dev.findResources('AWS::Lambda::Url');
    expect(Object.values(urls)).toHaveLength(2);
    for (const name of ['StreamMessage', 'StreamTask']) {
      const url = Object.values(urls).find((candidate) => JSON.stringify(candidate.Properties.TargetFunctionArn).includes(functionId(dev, name)))!;
      // Only the front may call it: IAM, signed by CloudFront's origin access control.
      expect(url.Properties).toMatchObject({ AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
      expect(dev.findResources('AWS::Lambda::Function')[functionId(dev, name)]!.Properties.Timeout).toBe(310);
    }
    const [distribution] = Object.values(dev.findResources('AWS::CloudFront::Distribution'));
    const config = distribution!.Properties.DistributionConfig;
    // Nothing cached; every viewer header but Host (the Clerk token included) reaches the origin.
    const cachingDisabled = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
    const allViewerExceptHost = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
    expect(config.DefaultCacheBehavior).toMatchObject({ CachePolicyId: cachingDisabled, OriginRequestPolicyId: allViewerExceptHost, ViewerProtocolPolicy: 'https-only' });
    expect(config.DefaultCacheBehavior.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']));
    const streamPaths = ROUTES.filter((route) => route.stream).map((route) => route.path.replace(/\{\w+\}/g, '*'));
    expect(config.CacheBehaviors.map((behavior: { PathPattern: string }) => behavior.PathPattern).sort()).toEqual(streamPaths.sort());
    for (const behavior of config.CacheBehaviors) {
      expect(behavior).toMatchObject({ CachePolicyId: cachingDisabled, OriginRequestPolicyId: allViewerExceptHost, ViewerProtocolPolicy: 'https-only' });
    }
    // The default origin is the HTTP API; the two others the function URLs, patient with a quiet stream.
    expect(config.Origins).toHaveLength(3);
    for (const origin of config.Origins) expect(origin.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginReadTimeout: 60 });
    const signedOrigins = config.Origins.filter((origin: { OriginAccessControlId?: unknown }) => origin.OriginAccessControlId);
    expect(signedOrigins).toHaveLength(2);
    dev.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always', SigningProtocol: 'sigv4' },
    });
    // CloudFront (this distribution) may invoke the URLs, and nobody else is granted it.
    const invokers = Object.values(dev.findResources('AWS::Lambda::Permission')).filter((permission) => permission.Properties.Action === 'lambda:InvokeFunctionUrl');
    expect(invokers).toHaveLength(2);
    for (const permission of invokers) expect(permission.Properties).toMatchObject({ Principal: 'cloudfront.amazonaws.com', SourceArn: expect.anything() });
    expect(JSON.stringify(dev.findOutputs('ApiUrl'))).toContain('DomainName');
  });

  it('refuses unauthenticated floods at the front: a web ACL, the front’s own check on every behavior, per-route throttles', () => {
    const [distribution] = Object.values(dev.findResources('AWS::CloudFront::Distribution'));
    const config = distribution!.Properties.DistributionConfig;
    expect(config.WebACLId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^FrontWebAcl/), 'Arn'] });
    const [acl] = Object.values(dev.findResources('AWS::WAFv2::WebACL'));
    expect(acl!.Properties).toMatchObject({ Scope: 'CLOUDFRONT', DefaultAction: { Allow: {} } });
    const rules = acl!.Properties.Rules as Array<{ Name: string; Statement: any; Action?: any; OverrideAction?: any }>;
    expect(rules.find((rule) => rule.Name === 'RequestsPerIp')).toMatchObject({
      Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
      Statement: { RateBasedStatement: { AggregateKeyType: 'IP', Limit: 2000, EvaluationWindowSec: 300 } },
    });
    const managed = rules.filter((rule) => rule.Statement.ManagedRuleGroupStatement).map((rule) => rule.Statement.ManagedRuleGroupStatement);
    expect(managed.map((group) => group.Name).sort()).toEqual(['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']);
    // Chat messages hold code and markup: the common rules that inspect bodies only count.
    const common = managed.find((group) => group.Name === 'AWSManagedRulesCommonRuleSet');
    expect(common.RuleActionOverrides.map((override: { Name: string }) => override.Name)).toEqual(expect.arrayContaining(['SizeRestrictions_BODY', 'CrossSiteScripting_BODY']));
    // The front's check runs on every behavior, before any origin.
    const [check] = Object.entries(dev.findResources('AWS::CloudFront::Function'));
    expect(check![1].Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    expect(check![1].Properties.FunctionCode).toBe(readFileSync(join(PROJECT_ROOT, 'infra', 'front-check.js'), 'utf8'));
    // A stage's CORS origins are written in, so that a browser can read the front's refusals.
    const withCors = synth({ stage: 'qa', protect: 'false', corsOrigins: 'https://app.example.com' }).template;
    const [, corsCheck] = Object.entries(withCors.findResources('AWS::CloudFront::Function'))[0]!;
    expect(corsCheck.Properties.FunctionCode).toContain('var CORS_ORIGINS = ["https://app.example.com"];');
    for (const behavior of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) {
      expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [check![0], 'FunctionARN'] } }]);
    }
    // The routes that start model calls (and the erasure, a sweep of a user's sessions) have throttles of their own, below the stage's.
    const [stage] = Object.values(dev.findResources('AWS::ApiGatewayV2::Stage'));
    const jobRoutes = ROUTES.filter((route) => route.enqueues).map(routeKey);
    expect(jobRoutes.sort()).toEqual(['DELETE /openai/users/{user_id}/data', 'POST /openai/sessions/{session_id}/ask', 'POST /openai/sessions/{session_id}/ctx']);
    expect(Object.keys(stage!.Properties.RouteSettings).sort()).toEqual(jobRoutes);
    for (const key of jobRoutes) expect(stage!.Properties.RouteSettings[key]).toEqual({ ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 });
  });

  it('turns the execute-api endpoint off when the front reaches the API through its own domain', () => {
    const { template } = synth({
      stage: 'qa',
      protect: 'false',
      apiDomainName: 'api-origin.example.com',
      apiCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abcd-1234',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainName: 'api-origin.example.com' });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution'));
    const apiOrigin = distribution!.Properties.DistributionConfig.Origins.find((origin: { OriginAccessControlId?: unknown }) => !origin.OriginAccessControlId);
    expect(apiOrigin.DomainName).toBe('api-origin.example.com');
    dev.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
  }, 60_000);

  it('deploys no local-only part: no function is given the mock model or a local endpoint', () => {
    for (const template of [dev, prod]) {
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function')) as Resource[]) {
        const variables = Object.keys(fn.Properties.Environment?.Variables ?? {});
        expect(variables.filter((name) => /^LOCAL_|^AWS_ENDPOINT_URL/.test(name))).toEqual([]);
      }
    }
  });

  it('runs every function on Node 24, arm64, traced, with its own log group and retention', () => {
    const functions = Object.values(dev.findResources('AWS::Lambda::Function')) as Resource[];
    expect(functions).toHaveLength(ROUTES.length + WORKERS.length);
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler', TracingConfig: { Mode: 'Active' } });
      expect(fn.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
      expect(fn.Properties.Environment.Variables).toMatchObject({ POWERTOOLS_SERVICE_NAME: expect.stringMatching(/^ai-chat-(api|worker)$/) });
    }
    const retention = (template: Template) =>
      new Set(Object.values(template.findResources('AWS::Logs::LogGroup')).map((group) => (group as Resource).Properties.RetentionInDays));
    expect(retention(dev)).toEqual(new Set([30]));
    expect(retention(prod)).toEqual(new Set([365]));
  });

  it('throttles the stage and writes access logs with errors and latencies', () => {
    dev.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
    });
    const [stage] = Object.values(dev.findResources('AWS::ApiGatewayV2::Stage'));
    // As API Gateway writes a line: the status a number (the 429 metric filter compares it as one).
    const line = String(stage!.Properties.AccessLogSettings.Format)
      .replace('$context.status', '429')
      .replace('$context.error.messageString', JSON.stringify('Too Many Requests'));
    expect(JSON.parse(line)).toMatchObject({
      stage: 'dev',
      status: 429,
      error: 'Too Many Requests',
      integrationLatencyMs: '$context.integrationLatency',
      latencyMs: '$context.responseLatency',
    });
    prod.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 } });
  });

  it('has a FIFO ask queue and a standard ctx queue, each redriving to its dead-letter queue', () => {
    for (const [name, fifo] of [['dev-ask.fifo', true], ['dev-ctx', false]] as const) {
      dev.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: name,
        FifoQueue: fifo ? true : Match.absent(),
        VisibilityTimeout: QUEUE_SETTINGS.visibilityTimeoutSeconds,
        RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: QUEUE_SETTINGS.maxReceiveCount },
        SqsManagedSseEnabled: true,
      });
    }
    // The documented numbers: 5 receives, then the dead-letter queue; 6 × the 120 s worker timeout.
    expect(QUEUE_SETTINGS.maxReceiveCount).toBe(5);
    expect(QUEUE_SETTINGS.visibilityTimeoutSeconds).toBe(720);
    expect(WORKER_TIMEOUT_SECONDS).toBe(120);
    dev.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-ask-dlq.fifo', FifoQueue: true, MessageRetentionPeriod: 1_209_600 });
    dev.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-ctx-dlq', MessageRetentionPeriod: 1_209_600 });
  });

  it('has a webhooks queue whose events get a first try and seven retries over about 28 hours, then a dead-letter queue and an alarm', () => {
    dev.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dev-webhooks',
      FifoQueue: Match.absent(),
      VisibilityTimeout: 90,
      MessageRetentionPeriod: 4 * 24 * 3600,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 8 },
      SqsManagedSseEnabled: true,
    });
    dev.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-webhooks-dlq', MessageRetentionPeriod: 1_209_600 });
    // The retries' waits (the visibility a failed try sets) span at least 24 hours, the first within 30 s, each within SQS's 12 h.
    expect(WEBHOOK_RETRY_SECONDS).toHaveLength(7);
    expect(WEBHOOK_RETRY_SECONDS[0]).toBeLessThanOrEqual(30);
    expect(WEBHOOK_RETRY_SECONDS.reduce((sum, wait) => sum + wait, 0)).toBeGreaterThanOrEqual(24 * 3600);
    expect(Math.max(...WEBHOOK_RETRY_SECONDS)).toBeLessThanOrEqual(12 * 3600);
    const [alarm] = Object.values(prod.findResources('AWS::CloudWatch::Alarm')).filter((candidate: any) => candidate.Properties.AlarmName === 'ai-chat-prod-WebhookEventsDeadLettered') as Resource[];
    expect(alarm!.Properties).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, AlarmActions: [{ Ref: expect.stringMatching(/^AlarmsTopic/) }] });
    expect(JSON.stringify(alarm!.Properties.Dimensions)).toMatch(/webhooksDeadLetters/);
    // The delivery: fed from the queue, 30 s to deliver a batch side by side (10 s a try).
    const delivery = dev.findResources('AWS::Lambda::Function')[functionId(dev, 'WebhookDelivery')]!;
    expect(delivery.Properties.Timeout).toBe(30);
    expect(delivery.Properties.Environment.Variables).toMatchObject({ ORG_SECRET_PREFIX: 'ai-chat/dev/orgs/', WEBHOOK_QUEUE_URL: { Ref: expect.stringMatching(/webhooksQueue/) } });
    expect(delivery.Properties.Environment.Variables.TABLE_NAME).toBeUndefined();
  });

  it('feeds each worker from its queue with partial batch failures and a maximum concurrency', () => {
    const mappings = Object.values(dev.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    expect(mappings).toHaveLength(WORKERS.length);
    for (const mapping of mappings) {
      expect(mapping.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: QUEUE_SETTINGS.batchSize,
        ScalingConfig: { MaximumConcurrency: expect.any(Number) },
      });
    }
    const worker = Object.values(dev.findResources('AWS::Lambda::Function')).find((fn) =>
      JSON.stringify(fn.Properties.Environment.Variables).includes('ORG_SECRET_PREFIX'),
    ) as Resource;
    expect(worker.Properties.Timeout).toBe(WORKER_TIMEOUT_SECONDS);
  });

  it('gives the GETs that may wait 28 s (a 20 s wait and its last read, inside the HTTP API’s 30 s), the other routes 10 s', () => {
    const functions = dev.findResources('AWS::Lambda::Function');
    expect(functions[functionId(dev, 'GetMessage')]!.Properties.Timeout).toBe(28);
    expect(functions[functionId(dev, 'GetTask')]!.Properties.Timeout).toBe(28);
    expect(functions[functionId(dev, 'GetSession')]!.Properties.Timeout).toBe(10);
    expect(functions[functionId(dev, 'CancelMessage')]!.Properties.Timeout).toBe(10);
  });

  describe('least privilege', () => {
    let statements: Map<string, Statement[]>;
    beforeAll(() => {
      statements = statementsByFunction(dev);
    });

    it('grants no action on "*" but X-Ray’s, which has no resource-level permissions', () => {
      for (const [fn, list] of statements) {
        for (const statement of list.filter((candidate) => candidate.Resource === '*')) {
          expect({ fn, actions: [statement.Action].flat().filter((action) => !action.startsWith('xray:')) }).toEqual({ fn, actions: [] });
        }
      }
    });

    it('uses no AWS managed policy: each function’s role may write only its own log group', () => {
      for (const role of Object.values(dev.findResources('AWS::IAM::Role')) as Resource[]) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
      const functions = new Set(Object.keys(dev.findResources('AWS::Lambda::Function')));
      for (const [owner, list] of statements) {
        const logs = list.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('logs:')));
        expect({ owner, logs: logs.length }).toEqual({ owner, logs: functions.has(owner) ? 1 : 0 });
        if (logs[0]) expect(logs[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Logs[0-9A-F]{8}$/), 'Arn'] });
      }
    });

    it('lets only the ask, ctx and erasure handlers enqueue, each on its own queue, the answering workers and the erasure requeue on theirs, and those that settle items send events', () => {
      const senders = [...statements].filter(([, list]) => actionsOf(list).includes('sqs:SendMessage')).map(([fn]) => fn).sort();
      const eventSenders = ['CancelMessage', 'CancelTask', 'AskWorker', 'CtxWorker', 'AskDeadLetters', 'CtxDeadLetters'];
      expect(senders).toEqual([...new Set(['Ask', 'CreateTask', 'EraseUserData', 'Erasure', ...eventSenders])].map((name) => functionId(dev, name)).sort());
      const targets = (name: string) =>
        statements.get(functionId(dev, name))!.filter((statement) => actionsOf([statement]).includes('sqs:SendMessage')).map((statement) => JSON.stringify(statement.Resource).match(/(ask|ctx|webhooks|erasure)Queue/)?.[1]).sort();
      expect(targets('EraseUserData')).toEqual(['erasure']);
      expect(targets('Erasure')).toEqual(['erasure']);
      expect(targets('Ask')).toEqual(['ask']);
      expect(targets('CreateTask')).toEqual(['ctx']);
      expect(targets('AskWorker')).toEqual(['ask', 'webhooks']);
      expect(targets('CtxWorker')).toEqual(['ctx', 'webhooks']);
      for (const name of ['CancelMessage', 'CancelTask', 'AskDeadLetters', 'CtxDeadLetters']) expect(targets(name)).toEqual(['webhooks']);
      // The delivery sends nothing, reads no table, and reads the webhook secrets only.
      const delivery = statements.get(functionId(dev, 'WebhookDelivery'))!;
      expect(actionsOf(delivery).filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
      const secrets = delivery.filter((statement) => actionsOf([statement]).includes('secretsmanager:GetSecretValue'));
      expect(secrets).toHaveLength(1);
      expect(JSON.stringify(secrets[0]!.Resource)).toContain(':secret:ai-chat/dev/orgs/*/webhook-??????');
    });

    it('lets no function read organization secrets: the answering workers take the tenant role, tagged with one org, which reads only that org’s', () => {
      const readers = [...statements].filter(([, list]) => actionsOf(list).includes('secretsmanager:GetSecretValue')).map(([owner]) => owner);
      const [tenantRoleId] = Object.keys(dev.findResources('AWS::IAM::Role')).filter((id) => /TenantSecretsRole[0-9A-F]{8}$/.test(id));
      // The delivery reads the organizations' webhook secrets (`<org>/webhook`), which hold no model key.
      expect(readers.sort()).toEqual([tenantRoleId, functionId(dev, 'WebhookDelivery')].sort());
      // The tenant role reads the stage's org secrets only where the secret's tag org is the session's.
      const read = statements.get(tenantRoleId!)!.find((statement) => actionsOf([statement]).includes('secretsmanager:GetSecretValue')) as Statement & { Condition: unknown };
      expect(JSON.stringify(read.Resource)).toContain(':secret:ai-chat/dev/orgs/*');
      expect(read.Condition).toEqual({ StringEquals: { 'secretsmanager:ResourceTag/org': '${aws:PrincipalTag/org}' } });
      expect(actionsOf(statements.get(tenantRoleId!))).toEqual(['secretsmanager:GetSecretValue']);
      // Only the answering workers may take it, and only with the one tag org naming an organization.
      const role = dev.findResources('AWS::IAM::Role')[tenantRoleId!]!;
      const workerRoles = ['AskWorker', 'CtxWorker'].map((name) => dev.findResources('AWS::Lambda::Function')[functionId(dev, name)]!.Properties.Role);
      expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Principal: { AWS: workerRoles },
          Condition: { StringLike: { 'aws:RequestTag/org': 'org_*' }, 'ForAllValues:StringEquals': { 'aws:TagKeys': ['org'] } },
        },
      ]);
      for (const name of ['AskWorker', 'CtxWorker']) {
        const own = statements.get(functionId(dev, name))!;
        expect(own.find((statement) => actionsOf([statement]).includes('sts:AssumeRole'))).toMatchObject({
          Action: ['sts:AssumeRole', 'sts:TagSession'],
          Resource: { 'Fn::GetAtt': [tenantRoleId, 'Arn'] },
        });
        expect(dev.findResources('AWS::Lambda::Function')[functionId(dev, name)]!.Properties.Environment.Variables.TENANT_SECRETS_ROLE_ARN).toEqual({ 'Fn::GetAtt': [tenantRoleId, 'Arn'] });
      }
      const assumers = [...statements].filter(([, list]) => actionsOf(list).includes('sts:AssumeRole')).map(([owner]) => owner);
      expect(assumers.sort()).toEqual([functionId(dev, 'AskWorker'), functionId(dev, 'CtxWorker')].sort());
    });

    it('gives the dead-letter consumers only what failing an item takes: GetItem and UpdateItem, in 256 MB', () => {
      for (const name of ['AskDeadLetters', 'CtxDeadLetters']) {
        expect(actionsOf(statements.get(functionId(dev, name))).filter((action) => action.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
        expect(dev.findResources('AWS::Lambda::Function')[functionId(dev, name)]!.Properties.MemorySize).toBe(256);
      }
    });

    it('gives read routes no write action, the 404 route no table, and nobody Scan', () => {
      const writes = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];
      for (const name of ['ListSessions', 'GetSession']) {
        const actions = actionsOf(statements.get(functionId(dev, name)));
        expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
        expect(actions.filter((action) => writes.includes(action))).toEqual([]);
      }
      expect(actionsOf(statements.get(functionId(dev, 'NotFound'))).filter((action) => action.startsWith('dynamodb:'))).toEqual([]);
      for (const list of statements.values()) expect(actionsOf(list)).not.toContain('dynamodb:Scan');
    });
  });

  it('alarms on what pages someone, each with what to do, on firing and on clearing, to a topic that mails when asked to', () => {
    const alarms = Object.values(prod.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const named = (suffix: string) => alarms.filter((alarm) => String(alarm.Properties.AlarmName).endsWith(suffix));
    const metricsOf = (alarm: Resource) =>
      (alarm.Properties.Metrics ?? []).filter((query: any) => query.MetricStat).map((query: any) => query.MetricStat.Metric.MetricName);
    // The project's own failures, as rates with a minimum count, on this stage's metrics.
    for (const [name, metric] of [['AnswerFailedRate', 'AnswerFailed'], ['TaskFailedRate', 'TaskFailed'], ['QueueUnavailableRate', 'QueueUnavailable']] as const) {
      const [alarm] = named(name);
      expect(metricsOf(alarm!)).toContain(metric);
      const expression = alarm!.Properties.Metrics.find((query: any) => query.Expression && query.ReturnData !== false).Expression;
      expect(expression).toMatch(/^IF\(part >= \d+, part \/ MAX\(\[whole, part\]\), 0\)$/);
      const stat = alarm!.Properties.Metrics.find((query: any) => query.MetricStat?.Metric.MetricName === metric).MetricStat;
      expect(stat.Metric).toMatchObject({ Namespace: 'AiChat', Dimensions: expect.arrayContaining([{ Name: 'stage', Value: 'prod' }]) });
    }
    // Dead letters as they arrive (their consumers drain them) and as they wait; the job and erasure queues' waits;
    // webhook events and erasure passes that failed every try (no consumer drains those).
    expect(alarms.filter((alarm) => alarm.Properties.MetricName === 'NumberOfMessagesReceived')).toHaveLength(2);
    expect(alarms.filter((alarm) => alarm.Properties.MetricName === 'ApproximateAgeOfOldestMessage')).toHaveLength(5);
    const deadLettered = alarms.filter((alarm) => alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(deadLettered.map((alarm) => JSON.stringify(alarm.Properties.Dimensions).match(/Jobs(\w+)DeadLetters/)?.[1]).sort()).toEqual(['erasure', 'webhooks']);
    // Functions: throttles (every function), the workers (answering, delivering, erasing) near their timeout, crashes.
    const throttled = new Set(named('').filter((alarm) => String(alarm.Properties.AlarmName).includes('FunctionThrottles')).flatMap((alarm) => JSON.stringify(alarm.Properties.Metrics).match(/"FunctionName","Value":\{"Ref":"[^"]+"/g) ?? []));
    expect(throttled.size).toBe(Object.keys(prod.findResources('AWS::Lambda::Function')).length);
    const nearTimeout = alarms.filter((alarm) => alarm.Properties.MetricName === 'Duration');
    expect(nearTimeout.map((alarm) => alarm.Properties.Threshold)).toEqual([WORKER_TIMEOUT_SECONDS * 900, WORKER_TIMEOUT_SECONDS * 900, 30 * 900, 60 * 900]);
    expect(alarms.filter((alarm) => alarm.Properties.MetricName === 'Errors')).toHaveLength(8);
    // The table, and the API as rates of its requests (429s counted from the access log).
    for (const metric of ['ReadThrottleEvents', 'WriteThrottleEvents']) expect(metricsOf(named('TableThrottles')[0]!)).toContain(metric);
    expect(metricsOf(named('TableSystemErrors')[0]!)).toEqual(Array(7).fill('SystemErrors'));
    expect(metricsOf(named('Api5xxRate')[0]!).sort()).toEqual(['5xx', 'Count']);
    expect(metricsOf(named('Api429Rate')[0]!).sort()).toEqual(['Api429', 'Count']);
    prod.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '{ $.status = 429 }', MetricTransformations: [Match.objectLike({ MetricName: 'Api429', MetricNamespace: 'AiChat' })] });
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
      expect(String(alarm.Properties.AlarmDescription).length).toBeGreaterThan(60);
    }
    prod.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    dev.resourceCountIs('AWS::SNS::Subscription', 0);
    dev.resourceCountIs('AWS::CloudWatch::Alarm', alarms.length);
  });

  it('lets CloudWatch, for this stage’s alarms only, use the topic’s key and publish to the topic (aws-cdk#11121)', () => {
    const stageAlarms = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:us-east-1:123456789012:alarm:ai-chat-prod-*']] };
    const [key] = Object.values(prod.findResources('AWS::KMS::Key'));
    expect(key!.Properties.KeyPolicy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { ArnLike: { 'aws:SourceArn': stageAlarms } },
      }),
    );
    const [topicPolicy] = Object.values(prod.findResources('AWS::SNS::TopicPolicy'));
    expect(topicPolicy!.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: { ArnLike: { 'aws:SourceArn': stageAlarms } },
      }),
    );
    // A stage that may be torn down takes its key with it.
    expect((Object.values(dev.findResources('AWS::KMS::Key'))[0] as Resource).DeletionPolicy).toBe('Delete');
    expect((key as Resource).DeletionPolicy).toBe('Retain');
  });

  it('tags every resource with the app, the stage and the owner', () => {
    const { template } = synth({ stage: 'qa', protect: 'false', owner: 'team-chat' });
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(table!.Properties.Replicas[0].Tags).toEqual(expect.arrayContaining([{ Key: 'app', Value: 'ai-chat' }, { Key: 'stage', Value: 'qa' }, { Key: 'owner', Value: 'team-chat' }]));
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(fn!.Properties.Tags).toEqual(expect.arrayContaining([{ Key: 'stage', Value: 'qa' }, { Key: 'owner', Value: 'team-chat' }]));
  }, 60_000);
});

describe('stage settings', () => {
  it('reads context first, then the environment, with per-stage defaults', () => {
    const settings = stageSettings((key) => ({ stage: 'staging-2', protect: 'false', corsOrigins: 'https://a.example, https://b.example' })[key as 'stage'], {
      CLERK_JWT_KEY: jwtKey.replace(/\n/g, '\\n'),
      CLERK_AUTHORIZED_PARTIES: 'https://a.example',
      ORG_RATE_LIMIT_PER_MINUTE: '300',
      ORG_READ_RATE_LIMIT_PER_MINUTE: '3000',
    });
    expect(settings).toMatchObject({
      stage: 'staging-2',
      protect: false,
      clerkJwtKey: jwtKey,
      clerkAuthorizedParties: ['https://a.example'],
      corsOrigins: ['https://a.example', 'https://b.example'],
      rateLimitPerMinute: 300,
      readRateLimitPerMinute: 3000,
      logRetentionDays: 30,
      orgSecretPrefix: 'ai-chat/staging-2/orgs/',
    });
  });

  it.each([
    ['an upper-case stage', { stage: 'Prod' }, {}, /stage must be lower-case/],
    ['a JWT key that is no PEM', { stage: 'dev' }, { CLERK_JWT_KEY: 'not a pem' }, /CLERK_JWT_KEY must be a PEM public key/],
    ['both Clerk settings', { stage: 'dev', clerkSecretName: 'clerk/dev' }, { CLERK_JWT_KEY: jwtKey }, /not both/],
    ['a bad alarm email', { stage: 'dev', alarmEmail: 'oncall' }, {}, /alarmEmail must be an email/],
    ['a retention CloudWatch lacks', { stage: 'dev', logRetentionDays: '45' }, {}, /logRetentionDays must be one of/],
    ['a CORS origin without scheme', { stage: 'dev', corsOrigins: 'example.com' }, {}, /CORS origin/],
    ['a zero rate limit', { stage: 'dev', rateLimitPerMinute: '0' }, {}, /rateLimitPerMinute/],
    ['a protected stage without its account and region', { stage: 'production' }, { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' }, /A protected stage deploys to one account and region only/],
    ['a protected stage with only its account', { stage: 'prod', account: '123456789012' }, {}, /A protected stage deploys to one account and region only/],
    ['CORS origin * on a protected stage', { stage: 'prod', ...PINNED, corsOrigins: '*' }, {}, /does not accept CORS origin \*/],
    ['a domain without its certificate', { stage: 'dev', apiDomainName: 'api.example.com' }, {}, /together/],
    // 50,000 CJK characters are 150,000 bytes: too long for one esbuild argument (Linux takes 128 KB).
    ['a system prompt past 120,000 bytes', { stage: 'dev', systemPrompt: '字'.repeat(50_000) }, {}, /at most 120,000 bytes/],
  ])('refuses %s', (_name, context, env, message) => {
    expect(() => stageSettings((key) => (context as Record<string, unknown>)[key], env)).toThrow(message);
  });

  it('gives the API functions a Clerk secret to read, and only that one, when clerkSecretName is set', () => {
    const { template } = synth({ stage: 'qa', protect: 'false', clerkSecretName: 'clerk/qa/secret-key' }, {});
    const statements = statementsByFunction(template);
    const getSession = statements.get(functionId(template, 'GetSession'))!;
    const secret = getSession.find((statement) => actionsOf([statement]).includes('secretsmanager:GetSecretValue'))!;
    expect(JSON.stringify(secret.Resource)).toContain(':secret:clerk/qa/secret-key-??????');
    const fn = template.findResources('AWS::Lambda::Function')[functionId(template, 'GetSession')]!;
    expect(fn.Properties.Environment.Variables).toMatchObject({ CLERK_SECRET_NAME: 'clerk/qa/secret-key' });
    // Read through the AWS Parameters and Secrets extension, so that no bundle carries a Secrets Manager client.
    expect(JSON.stringify(fn.Properties.Layers)).toMatch(/AWS-Parameters-and-Secrets-Lambda-Extension|ParamsAndSecrets/i);
    expect(fn.Properties.Environment.Variables.CLERK_JWT_KEY).toBeUndefined();
  }, 60_000);
});

describe.each([
  ['dev', {}],
  ['prod', PINNED],
  ['production', { account: '123456789012', region: 'eu-west-1' }],
])('stage %s', (stage, pinned) => {
  const env = { CLERK_JWT_KEY: jwtKey };
  it('synthesizes, cdk-nag included, without the account and region the CLI sets (offline)', () => {
    expect(() => synth({ stage, ...pinned }, env)).not.toThrow();
  }, 60_000);

  it('synthesizes, cdk-nag included, with the account and region cdk deploy sets', () => {
    const { template, stacks } = synth({ stage, ...pinned }, { ...env, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' });
    const region = 'region' in pinned ? pinned.region : 'eu-west-1';
    // The org-secret policy names the account and region, as deployed.
    const secrets = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(secrets).toContain(`:secretsmanager:${region}:123456789012:secret:ai-chat/${stage}/orgs/*`);
    // CloudFront's web ACLs live in us-east-1: a stage elsewhere gets a stack there for it.
    expect(stacks.sort()).toEqual(region === 'us-east-1' ? [`ai-chat-${stage}`] : [`ai-chat-${stage}`, `ai-chat-${stage}-edge`].sort());
  }, 60_000);
});

it('protects a stage unless asked not to, whatever its name: production keeps its data as prod does', () => {
  const { template, stack } = synth({ stage: 'production', ...PINNED });
  const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable')) as Resource[];
  expect(table!.DeletionPolicy).toBe('Retain');
  expect(table!.Properties.Replicas[0]).toMatchObject({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, DeletionProtectionEnabled: true });
  expect(stack.terminationProtection).toBe(true);
  expect(stack.account).toBe('123456789012');
  expect(stack.region).toBe('us-east-1');
  const open = synth({ stage: 'production', protect: 'false' });
  expect((Object.values(open.template.findResources('AWS::DynamoDB::GlobalTable'))[0] as Resource).DeletionPolicy).toBe('Delete');
}, 60_000);

it('refuses to synthesize a protected stage whose account and region are not pinned', () => {
  expect(() => synth({ stage: 'prod' }, { CLERK_JWT_KEY: jwtKey, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' })).toThrow(
    /A protected stage deploys to one account and region only/,
  );
});

it('runs cdk-nag on every synth of the app: an unacknowledged finding fails it', () => {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], stage: 'dev' } });
  const stack = buildApp(app, { CLERK_JWT_KEY: jwtKey });
  new Queue(stack, 'PlainQueue');
  expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4/);
});
