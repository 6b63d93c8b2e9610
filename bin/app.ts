/** The CDK app: `npx cdk synth -c stage=dev`, `npx cdk deploy -c stage=prod`. One stack per stage. */
import { App } from 'aws-cdk-lib';
import { ChatStack } from '../infra/stack.js';
import { stageSettings } from '../infra/stage.js';

const app = new App();
const settings = stageSettings((key) => app.node.tryGetContext(key));
new ChatStack(app, `ai-chat-${settings.stage}`, {
  settings,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
