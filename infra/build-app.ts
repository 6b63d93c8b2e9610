import { Annotations, App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { acknowledgeNagFindings } from './nag.js';
import { ChatStack } from './chat-stack.js';
import { stageSettings } from './stage.js';

/**
 * The CDK app: one stack per stage (`-c stage=dev`, `-c stage=prod`, any name), checked by cdk-nag's
 * AwsSolutions rules on every synth. Used by bin/app.ts and by the tests.
 */
export function buildApp(app: App, env: NodeJS.ProcessEnv = process.env): ChatStack {
  const settings = stageSettings((key) => app.node.tryGetContext(key), env);
  const stack = new ChatStack(app, `ai-chat-${settings.stage}`, {
    settings,
    env: { account: env.CDK_DEFAULT_ACCOUNT, region: env.CDK_DEFAULT_REGION },
    description: `AI chat backend, stage ${settings.stage}`,
    terminationProtection: settings.protect,
  });
  if (!settings.clerkJwtKey && !settings.clerkSecretName) {
    Annotations.of(stack).addWarningV2(
      'ai-chat:no-clerk',
      'Neither CLERK_JWT_KEY nor clerkSecretName is set: this stage will refuse every request. Set one before deploying.',
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  acknowledgeNagFindings(stack, settings);
  return stack;
}
