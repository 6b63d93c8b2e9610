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

  it('runs every handler on Node 24, arm64', () => {
    const functions = Object.values(dev.findResources('AWS::Lambda::Function'));
    expect(functions.length).toBeGreaterThanOrEqual(ROUTES.length);
    for (const fn of functions.filter((resource) => resource.Properties.Handler === 'index.handler')) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
  });
});
