import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';

export interface FrontWebAclProps {
  stage: string;
  /** Requests one IP address may send in any 5 minutes before it is blocked. */
  requestsPerIp: number;
}

/** AWS managed rules whose body rules would refuse ordinary chat messages: those only count. */
const COUNT_ONLY_BODY_RULES = {
  AWSManagedRulesCommonRuleSet: ['SizeRestrictions_BODY', 'CrossSiteScripting_BODY', 'GenericLFI_BODY', 'GenericRFI_BODY', 'EC2MetaDataSSRF_BODY'],
  AWSManagedRulesKnownBadInputsRuleSet: ['Log4JRCE_BODY', 'JavaDeserializationRCE_BODY'],
  AWSManagedRulesAmazonIpReputationList: [],
} as const;

/**
 * The web ACL of the API's front (CloudFront scope, so it lives in us-east-1): a rate-based rule per
 * client IP, and AWS's managed rules for known bad inputs, common exploits and IP addresses with a
 * bad reputation. The managed rules that inspect bodies only count: a chat message may well hold
 * code, markup or a path, and bodies up to 256 KB are the API's own limit.
 */
export class FrontWebAcl extends Construct {
  readonly acl: CfnWebACL;

  constructor(scope: Construct, id: string, props: FrontWebAclProps) {
    super(scope, id);
    const visibility = (metricName: string) => ({ cloudWatchMetricsEnabled: true, sampledRequestsEnabled: true, metricName });
    const managed = Object.entries(COUNT_ONLY_BODY_RULES).map(([name, countOnly], index): CfnWebACL.RuleProperty => ({
      name,
      priority: 10 + index,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name,
          ruleActionOverrides: countOnly.map((rule) => ({ name: rule, actionToUse: { count: {} } })),
        },
      },
      visibilityConfig: visibility(`ai-chat-${props.stage}-${name}`),
    }));
    this.acl = new CfnWebACL(this, 'Acl', {
      name: `ai-chat-${props.stage}-front`,
      description: `ai-chat ${props.stage}: rate limit per IP and managed rules of the API front`,
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`ai-chat-${props.stage}-front`),
      rules: [
        {
          name: 'RequestsPerIp',
          priority: 1,
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'tooManyRequests',
                responseHeaders: [{ name: 'retry-after', value: '60' }],
              },
            },
          },
          statement: { rateBasedStatement: { limit: props.requestsPerIp, evaluationWindowSec: 300, aggregateKeyType: 'IP' } },
          visibilityConfig: visibility(`ai-chat-${props.stage}-requests-per-ip`),
        },
        ...managed,
      ],
      customResponseBodies: {
        tooManyRequests: {
          contentType: 'APPLICATION_JSON',
          content: JSON.stringify({ error: 'Too many requests from this address. Wait a minute and try again.', code: 'rate_limited' }),
        },
      },
    });
  }
}
