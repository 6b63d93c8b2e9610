import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { buildApp } from '../../infra/build-app.js';
import { stageSettings } from '../../infra/stage.js';
import { QUEUE_SETTINGS, WORKER_TIMEOUT_SECONDS } from '../../shared/contract/queues.js';
import { ROUTES, routeKey } from '../../shared/contract/routes.js';
import { createTableInput } from '../../shared/store/table.js';
import { makeKeys } from '../../bin/local/tokens.js';

const jwtKey = makeKeys().publicKeyPem;

/**
 * The stack of a stage, as `cdk synth` makes it, cdk-nag included (a finding not acknowledged makes
 * `synth()` throw). Bundling is skipped here: test/infra/bundles.test.ts builds every bundle.
 */
function synth(context: Record<string, unknown>, env: NodeJS.ProcessEnv = { CLERK_JWT_KEY: jwtKey }) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = buildApp(app, env);
  app.synth();
  return { template: Template.fromStack(stack), stack };
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
    ({ template: prod, stack: prodStack } = synth({ stage: 'prod', alarmEmail: 'oncall@example.com' }));
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
      expect(url.Properties).toMatchObject({ AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' });
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
    expect(JSON.stringify(dev.findOutputs('ApiUrl'))).toContain('DomainName');
  });

  it('runs every function on Node 24, arm64, traced, with its own log group and retention', () => {
    const functions = Object.values(dev.findResources('AWS::Lambda::Function')) as Resource[];
    expect(functions).toHaveLength(ROUTES.length + 4);
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

  it('throttles the stage and writes access logs', () => {
    dev.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('requestId') },
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

  it('feeds each worker from its queue with partial batch failures and a maximum concurrency', () => {
    const mappings = Object.values(dev.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    expect(mappings).toHaveLength(4);
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

    it('uses no AWS managed policy: each role may write only its own log group', () => {
      for (const role of Object.values(dev.findResources('AWS::IAM::Role')) as Resource[]) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
      for (const list of statements.values()) {
        const logs = list.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('logs:')));
        expect(logs).toHaveLength(1);
        expect(logs[0]!.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Logs[0-9A-F]{8}$/), 'Arn'] });
      }
    });

    it('lets only the ask and ctx handlers enqueue, each on its own queue', () => {
      const senders = [...statements].filter(([, list]) => actionsOf(list).includes('sqs:SendMessage')).map(([fn]) => fn).sort();
      expect(senders).toEqual([functionId(dev, 'Ask'), functionId(dev, 'CreateTask')].sort());
      const target = (name: string) => statements.get(functionId(dev, name))!.find((statement) => actionsOf([statement]).includes('sqs:SendMessage'))!.Resource;
      expect(JSON.stringify(target('Ask'))).toMatch(/askQueue/);
      expect(JSON.stringify(target('CreateTask'))).toMatch(/ctxQueue/);
    });

    it('lets only the answering workers read organization secrets, under the stage’s prefix', () => {
      const readers = [...statements].filter(([, list]) => actionsOf(list).includes('secretsmanager:GetSecretValue'));
      expect(readers.map(([fn]) => fn).sort()).toEqual([functionId(dev, 'AskWorker'), functionId(dev, 'CtxWorker')].sort());
      for (const [, list] of readers) {
        const resource = JSON.stringify(list.find((statement) => actionsOf([statement]).includes('secretsmanager:GetSecretValue'))!.Resource);
        expect(resource).toContain(':secret:ai-chat/dev/orgs/*');
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

  it('alarms on dead letters, worker errors and API 5xx, to a topic that mails when asked to', () => {
    const alarms = Object.values(prod.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const byMetric = (name: string) => alarms.filter((alarm) => alarm.Properties.MetricName === name);
    expect(byMetric('ApproximateNumberOfMessagesVisible')).toHaveLength(2);
    expect(byMetric('Errors')).toHaveLength(4);
    expect(byMetric('5xx')).toHaveLength(1);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^AlarmsTopic/) }]);
    prod.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    dev.resourceCountIs('AWS::SNS::Subscription', 0);
    dev.resourceCountIs('AWS::CloudWatch::Alarm', alarms.length);
  });
});

describe('stage settings', () => {
  it('reads context first, then the environment, with per-stage defaults', () => {
    const settings = stageSettings((key) => ({ stage: 'staging-2', corsOrigins: 'https://a.example, https://b.example' })[key as 'stage'], {
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
  ])('refuses %s', (_name, context, env, message) => {
    expect(() => stageSettings((key) => (context as Record<string, unknown>)[key], env)).toThrow(message);
  });

  it('gives the API functions a Clerk secret to read, and only that one, when clerkSecretName is set', () => {
    const { template } = synth({ stage: 'qa', clerkSecretName: 'clerk/qa/secret-key' }, {});
    const statements = statementsByFunction(template);
    const getSession = statements.get(functionId(template, 'GetSession'))!;
    const secret = getSession.find((statement) => actionsOf([statement]).includes('secretsmanager:GetSecretValue'))!;
    expect(JSON.stringify(secret.Resource)).toContain(':secret:clerk/qa/secret-key-??????');
    const fn = template.findResources('AWS::Lambda::Function')[functionId(template, 'GetSession')]!;
    expect(fn.Properties.Environment.Variables).toMatchObject({ CLERK_SECRET_NAME: 'clerk/qa/secret-key' });
    expect(fn.Properties.Environment.Variables.CLERK_JWT_KEY).toBeUndefined();
  }, 60_000);
});

describe.each(['dev', 'prod'])('stage %s', (stage) => {
  const env = { CLERK_JWT_KEY: jwtKey };
  it('synthesizes, cdk-nag included, without an account and region (offline)', () => {
    expect(() => synth({ stage }, env)).not.toThrow();
  }, 60_000);

  it('synthesizes, cdk-nag included, with the account and region cdk deploy sets', () => {
    const { template } = synth({ stage }, { ...env, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' });
    // The org-secret policy names the account and region, as deployed.
    const secrets = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(secrets).toContain(`:secretsmanager:eu-west-1:123456789012:secret:ai-chat/${stage}/orgs/*`);
  }, 60_000);
});

it('runs cdk-nag on every synth of the app: an unacknowledged finding fails it', () => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], stage: 'dev' } });
  const stack = buildApp(app, { CLERK_JWT_KEY: jwtKey });
  new Queue(stack, 'PlainQueue');
  expect(() => app.synth()).toThrow(/AwsSolutions-SQS3|AwsSolutions-SQS4/);
});
