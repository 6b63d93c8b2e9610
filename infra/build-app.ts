import { Annotations, App, Stack, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings } from './nag.js';
import { ChatStack } from './chat-stack.js';
import { stageSettings } from './stage.js';
import { FrontWebAcl } from './web-acl.js';

/** CloudFront's web ACLs live in this region, whatever region the stage is in. */
const EDGE_REGION = 'us-east-1';

/**
 * The CDK app: one stack per stage (`-c stage=dev`, `-c stage=prod`, any name), checked by cdk-nag's
 * AwsSolutions rules on every synth; and, for a stage outside us-east-1, a small stack there with
 * the front's web ACL (CloudFront's web ACLs must be made in us-east-1). A stage deploys to its
 * pinned account and region (required when it is protected), else where the CLI's credentials
 * point; offline, without either, us-east-1 is assumed. Used by bin/app.ts and by the tests.
 */
export function buildApp(app: App, env: NodeJS.ProcessEnv = process.env): ChatStack {
  const settings = stageSettings((key) => app.node.tryGetContext(key), env);
  const account = settings.account ?? env.CDK_DEFAULT_ACCOUNT;
  const region = settings.region ?? env.CDK_DEFAULT_REGION ?? EDGE_REGION;
  const edge =
    region === EDGE_REGION
      ? undefined
      : new Stack(app, `ai-chat-${settings.stage}-edge`, {
          env: { account, region: EDGE_REGION },
          crossRegionReferences: true,
          description: `AI chat backend, stage ${settings.stage}: the front's web ACL (CloudFront's are made in ${EDGE_REGION})`,
          terminationProtection: settings.protect,
        });
  const webAcl = edge ? new FrontWebAcl(edge, 'FrontWebAcl', { stage: settings.stage, requestsPerIp: settings.wafRequestsPerIp }) : undefined;
  const stack = new ChatStack(app, `ai-chat-${settings.stage}`, {
    settings,
    env: { account, region },
    crossRegionReferences: Boolean(edge),
    webAclArn: webAcl?.acl.attrArn,
    description: `AI chat backend, stage ${settings.stage}`,
    terminationProtection: settings.protect,
  });
  for (const scope of [stack, edge]) {
    if (!scope) continue;
    Tags.of(scope).add('app', 'ai-chat');
    Tags.of(scope).add('stage', settings.stage);
    Tags.of(scope).add('owner', settings.owner);
  }
  if (!settings.clerkJwtKey && !settings.clerkSecretName) {
    Annotations.of(stack).addWarningV2(
      'ai-chat:no-clerk',
      'Neither CLERK_JWT_KEY nor clerkSecretName is set: this stage will refuse every request. Set one before deploying.',
    );
  }
  if (settings.protect && !settings.apiDomainName) {
    Annotations.of(stack).addWarningV2(
      'ai-chat:origin-open',
      'No apiDomainName: the HTTP API\u2019s execute-api endpoint stays reachable without the front\u2019s WAF and check (every route still verifies the Clerk token). Set apiDomainName and apiCertificateArn to turn it off.',
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  acknowledgeNagFindings(stack, settings, edge);
  return stack;
}
