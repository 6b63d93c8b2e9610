import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { ChatStack } from './chat-stack.js';
import type { StageSettings } from './stage.js';

/**
 * The cdk-nag AwsSolutions findings this design accepts, each acknowledged on the resources it is
 * about, with its reason. Everything else cdk-nag reports fails the synth.
 */
export function acknowledgeNagFindings(stack: ChatStack, settings: StageSettings, edge?: Stack): void {
  const acknowledge = (scope: IConstruct, id: string, reason: string) => Validations.of(scope).acknowledge({ id, reason });
  const functions = [...stack.api.functions, ...stack.jobs.workers];
  for (const fn of functions) {
    acknowledge(
      fn.role!,
      'AwsSolutions-IAM5[Resource::*]',
      'X-Ray: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions. ' +
        'Tests assert that no other action of any role is granted on "*".',
    );
  }
  // cdk-nag names a finding by the resource as synthesized: the account and region are tokens
  // offline, and the values themselves when they are known (pinned, or set by the CLI).
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  acknowledge(
    stack.jobs.tenantSecretsRole,
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${settings.orgSecretPrefix}*]`,
    'Each organization has its own secret under this stage\u2019s prefix; the tenant role may read one of them only ' +
      'where its tag org equals the session\u2019s tag org (secretsmanager:ResourceTag/org = aws:PrincipalTag/org).',
  );
  const delivery = stack.jobs.workers.find((fn) => fn.node.id === 'WebhookDelivery');
  if (delivery) {
    acknowledge(
      delivery.role!,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${settings.orgSecretPrefix}*/webhook-??????]`,
      'The webhook delivery signs each organization\u2019s events with its webhook secret (`<prefix><org>/webhook`): it may read those ' +
        'secrets and no other (not the organizations\u2019 model keys), and no table.',
    );
  }
  acknowledge(
    stack.api.api,
    'AwsSolutions-APIG4',
    'Every route\u2019s function verifies a Clerk session token (RS256, exp/nbf, azp, active organization) and the front ' +
      'refuses requests without one before any function runs; an API Gateway JWT authorizer cannot check Clerk tokens, ' +
      'which carry no audience. The catch-all route is a function that answers 404 in the contract\u2019s shape.',
  );
  const distribution = stack.front.distribution;
  acknowledge(distribution, 'AwsSolutions-CFR1', 'The API serves its organizations wherever their users are; no country is to be refused at the edge.');
  acknowledge(
    distribution,
    'AwsSolutions-CFR3',
    'Requests are logged where they are answered: the WAF\u2019s sampled requests and metrics, the HTTP API stage\u2019s ' +
      'access log, and the stream functions\u2019 own log groups; the distribution caches nothing.',
  );
  acknowledge(
    distribution,
    'AwsSolutions-CFR4',
    'The distribution uses CloudFront\u2019s default certificate, whose minimum TLS version cannot be set; a stage with ' +
      'its own domain and certificate sets TLSv1.2_2021.',
  );
  // CDK's own providers for the cross-region reference to the web ACL (a stage outside us-east-1).
  for (const [scope, name] of [
    [stack, 'Custom::CrossRegionExportReaderCustomResourceProvider'],
    [edge, 'Custom::CrossRegionExportWriterCustomResourceProvider'],
  ] as const) {
    const provider = scope?.node.tryFindChild(name);
    if (!provider) continue;
    const reason =
      'CDK\u2019s provider of the cross-region reference to the front\u2019s web ACL (us-east-1), made by aws-cdk-lib: its runtime, ' +
      'its basic execution policy and its SSM parameter permissions are CDK\u2019s, used only at deploy time.';
    for (const id of ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]', 'AwsSolutions-IAM5', 'AwsSolutions-L1']) {
      acknowledge(provider, id, reason);
    }
  }
}
