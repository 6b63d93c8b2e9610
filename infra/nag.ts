import { Stack, Token, Validations } from 'aws-cdk-lib';
import type { StageSettings } from './stage.js';

/**
 * The cdk-nag AwsSolutions findings this design accepts, each with its reason. Everything else
 * cdk-nag reports fails the synth.
 */
export function acknowledgeNagFindings(stack: Stack, settings: StageSettings): void {
  const acknowledge = (id: string, reason: string) => Validations.of(stack).acknowledge({ id, reason });
  acknowledge(
    'AwsSolutions-IAM5[Resource::*]',
    'X-Ray: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions. ' +
      'Tests assert that no other action of any role is granted on "*".',
  );
  // cdk-nag names a finding by the resource as synthesized: the account and region are tokens
  // offline, and the values themselves when the CLI has credentials (as for cdk deploy).
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const account = Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account;
  acknowledge(
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${region}:${account}:secret:${settings.orgSecretPrefix}*]`,
    'Each organization has its own secret, named by its id under this stage\u2019s prefix; the answering ' +
      'workers must read any of them, and nothing outside the prefix.',
  );
  acknowledge(
    'AwsSolutions-APIG4',
    'Every route verifies a Clerk session token in the function (RS256, exp/nbf, azp, active organization); ' +
      'an API Gateway JWT authorizer cannot, as Clerk session tokens carry no audience. The $default route ' +
      'only answers 404.',
  );
  // The front (infra/front.ts, docs/decisions/0001-streams-front.md).
  acknowledge(
    'AwsSolutions-CFR1',
    'The API serves its organizations wherever their users are; no country is to be refused at the edge.',
  );
  acknowledge(
    'AwsSolutions-CFR2',
    'No WAF web ACL yet: every route verifies a Clerk token, the HTTP API stage is throttled; a web ACL ' +
      '(rate-based rules) is the front\u2019s next step, see the decision record.',
  );
  acknowledge(
    'AwsSolutions-CFR3',
    'Requests are logged where they are answered: the HTTP API stage\u2019s access log, and the stream ' +
      'functions\u2019 own log groups; the distribution caches nothing.',
  );
  acknowledge(
    'AwsSolutions-CFR4',
    'The distribution uses CloudFront\u2019s default certificate, whose minimum TLS version cannot be set; ' +
      'a stage with its own domain and certificate sets TLSv1.2_2021.',
  );
}
