import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ChatStack } from '../../infra/stack.js';
import { stageSettings } from '../../infra/stage.js';
import { ROUTES, routeKey } from '../../shared/routes.js';
import { createTableInput } from '../../shared/store/table.js';

function synth(stage: string): Template {
  const app = new App({ context: { stage } });
  const settings = stageSettings((key) => app.node.tryGetContext(key), {});
  return Template.fromStack(new ChatStack(app, `ai-chat-${stage}`, { settings }));
}

describe('the stack', () => {
  let dev: Template;
  beforeAll(() => {
    dev = synth('dev');
  }, 60_000);

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

  it('has every route of the route table, and no other', () => {
    const routes = Object.values(dev.findResources('AWS::ApiGatewayV2::Route')).map((resource) => resource.Properties.RouteKey);
    const expected = ROUTES.map((route) => (route.path === '$default' ? 'ANY /{proxy+}' : routeKey(route)));
    expect(routes.sort()).toEqual(expected.sort());
  });

  it('has a FIFO ask queue and a standard ctx queue, each redriving to its dead-letter queue', () => {
    dev.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dev-ask.fifo',
      FifoQueue: true,
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    dev.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-ask-dlq.fifo', FifoQueue: true });
    dev.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'dev-ctx',
      VisibilityTimeout: 720,
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    dev.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-ctx-dlq' });
  });

  it('feeds the workers through event source mappings with partial batch failures', () => {
    const mappings = Object.values(dev.findResources('AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(4);
    for (const mapping of mappings) {
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(mapping.Properties.BatchSize).toBe(5);
      expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
    }
  });

  it('lets only the ask and ctx handlers send jobs, and only the answering workers read org secrets', () => {
    const policies = Object.entries(dev.findResources('AWS::IAM::Policy'));
    const holders = (action: string) =>
      policies
        .filter(([, policy]) =>
          policy.Properties.PolicyDocument.Statement.some((statement: { Action: string | string[] }) =>
            [statement.Action].flat().includes(action),
          ),
        )
        .map(([id]) => id.replace(/ServiceRoleDefaultPolicy.*$/, '').replace(/^Jobs/, ''))
        .sort();
    expect(holders('sqs:SendMessage')).toEqual(['Ask', 'CreateTask']);
    expect(holders('secretsmanager:GetSecretValue')).toEqual(['AskWorker', 'CtxWorker']);
  });

  it('runs every handler on Node 24, arm64', () => {
    const functions = Object.values(dev.findResources('AWS::Lambda::Function'));
    expect(functions.length).toBeGreaterThanOrEqual(ROUTES.length);
    for (const fn of functions.filter((resource) => resource.Properties.Handler === 'index.handler')) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
  });
});
