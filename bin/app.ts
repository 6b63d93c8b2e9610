/** The CDK app: `npx cdk synth -c stage=dev`, `npx cdk deploy -c stage=prod`. One stack per stage. */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../infra/build-app.js';

buildApp(new App());
