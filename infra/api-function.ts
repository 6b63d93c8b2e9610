import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../shared/contract/project.js';
import { VARIABLES } from '../shared/platform/env.js';
import { TABLE } from '../shared/store/table.js';

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
  // The maps name files and lines; the sources themselves (2.6 MB a function) stay out of the bundle.
  sourcesContent: false,
  externalModules: [] as string[],
  // Packages' ES module builds first: esbuild can drop what is not used from them, and not from
  // CommonJS (a route's bundle goes from about 800 to 600 KB, and loads faster).
  mainFields: ['module', 'main'] as string[],
  // Some dependencies still call require(); an ESM bundle needs it made for them.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  // Parts of the AWS SDK this service never uses in Lambda, replaced by small stand-ins (each file
  // says why): the credential chain beyond the environment, event streams, the endpoint cache's LRU.
  // A route's bundle goes from about 620 to under 300 KB (npm run bench).
  alias: {
    '@aws-sdk/credential-provider-node': join(PROJECT_ROOT, 'shared', 'platform', 'slim', 'credentials.ts'),
    '@smithy/core/event-streams': join(PROJECT_ROOT, 'shared', 'platform', 'slim', 'event-streams.ts'),
    'mnemonist/lru-cache': join(PROJECT_ROOT, 'shared', 'platform', 'slim', 'lru-cache.ts'),
  } as Record<string, string>,
  // @clerk/backend's runtime object reads these web globals when it is imported, and the first
  // read of any of them loads Node's fetch implementation (about 14 ms of every API cold start);
  // token verification never uses them, and no other bundled code reads them (test/infra/bundles.test.ts).
  define: {
    'globalThis.FormData': 'undefined',
    'globalThis.Headers': 'undefined',
    'globalThis.Request': 'undefined',
    'globalThis.Response': 'undefined',
  } as Record<string, string>,
} as const;

export interface AppFunctionProps extends Omit<NodejsFunctionProps, 'entry' | 'logGroup' | 'handler'> {
  /** The handler module, relative to the project root (as in shared/contract/routes.ts and workers.ts); it exports `handler`. */
  entry: string;
  /** Powertools service name: `ai-chat-api` or `ai-chat-worker`. */
  serviceName: string;
  logRetention: RetentionDays;
  /** What happens to the function's logs when the stack goes: RETAIN in prod. */
  logRemovalPolicy: RemovalPolicy;
}

/** The DynamoDB actions of each kind of table access: nothing more (no Scan, no streams). */
const TABLE_ACTIONS = {
  read: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem'],
  write: [
    'dynamodb:GetItem',
    'dynamodb:Query',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
  ],
  /** Read one item and update it: what failing a dead job's item takes. */
  settle: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
} as const;

/**
 * A Lambda function with the project's defaults: Node 24 on arm64, an ESM bundle made locally by
 * esbuild, X-Ray tracing, its own log group with a retention, its own role that may write to that
 * log group and nothing else until granted, and Powertools settings.
 */
export class AppFunction extends NodejsFunction {
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: AppFunctionProps) {
    const { entry, serviceName, environment, bundling, logRetention, logRemovalPolicy, ...rest } = props;
    const logs = new LogGroup(scope, `${id}Logs`, { retention: logRetention, removalPolicy: logRemovalPolicy });
    // Not the AWS managed basic execution role: that one may write to every log group of the account.
    const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(10),
      tracing: Tracing.ACTIVE,
      ...rest,
      entry: join(PROJECT_ROOT, entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      logGroup: logs,
      role,
      environment: {
        // No NODE_OPTIONS=--enable-source-maps: it costs about 8 ms of every cold start (a fifth of
        // an import, npm run bench); the maps are kept beside each bundle to decode a stack trace.
        [VARIABLES.serviceName]: serviceName,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_METRICS_NAMESPACE: 'AiChat',
        ...environment,
      },
      bundling: {
        ...BUNDLING,
        ...bundling,
        esbuildArgs: Object.fromEntries(Object.entries(BUNDLING.alias).map(([module, path]) => [`--alias:${module}`, path])),
      },
    });
    this.logs = logs;
    logs.grantWrite(role);
  }

  /** Table access as the route and worker tables declare it: the table and its one index, item actions only. */
  grantTable(table: ITableV2, access: keyof typeof TABLE_ACTIONS | 'none'): void {
    if (access === 'none') return;
    this.addToRolePolicy(
      new PolicyStatement({
        actions: [...TABLE_ACTIONS[access]],
        resources: [table.tableArn, `${table.tableArn}/index/${TABLE.byOwnerIndex.name}`],
      }),
    );
  }
}
