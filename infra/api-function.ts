import { Duration } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

export interface AppFunctionProps extends Omit<NodejsFunctionProps, 'entry'> {
  /** The handler module, relative to the project root (as in shared/routes.ts and shared/workers.ts). */
  entry: string;
  serviceName: string;
}

/**
 * How every function is bundled: one ESM file for Node 24, minified, with source maps, holding
 * everything it imports, the AWS SDK included: the exact versions tested here are the ones that
 * run (not whatever SDK the Lambda runtime carries), and esbuild drops the parts not used.
 * Exported so the bundle report test builds the same way.
 */
export const BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  minify: true,
  sourceMap: true,
  externalModules: [] as string[],
  // Some dependencies still call require(); an ESM bundle needs it made for them.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
} as const;

/**
 * A Lambda function with the project's defaults: Node 24 on arm64, an ESM bundle made locally by
 * esbuild (minified, with source maps), and Powertools settings.
 */
export class AppFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    const { entry, serviceName, environment, bundling, ...rest } = props;
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      logRetention: undefined,
      ...rest,
      entry: join(PROJECT_ROOT, entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: serviceName,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...environment,
      },
      bundling: { ...BUNDLING, ...bundling },
    });
  }
}

export const LOG_RETENTION = RetentionDays.ONE_MONTH;
