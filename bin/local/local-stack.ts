import { join } from 'node:path';
import { QUEUES } from '../../shared/contract/queues.js';
import { ROUTES } from '../../shared/contract/routes.js';
import { WORKERS } from '../../shared/contract/workers.js';
import { VARIABLES } from '../../shared/platform/env.js';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDb, type Db } from '../../shared/store/client.js';
import { localCredentials } from './aws.js';
import { requeueWaitingWork } from './recovery.js';
import { devKeysDirectory, ensureDevKeys, type DevKeys } from './dev-keys.js';
import { playground } from './playground/server.js';
import { seedOrgPolicies } from './org-policies.js';
import { dynamoOrgPolicyRepository } from '../../shared/org-policy/repository.js';
import { startLocalDynamo, type LocalDynamo } from './dynamodb.js';
import { startGateway } from './gateway.js';
import { startLocalSqs, type LocalSqs } from './sqs.js';
import { inProcessWorkers, threadWorkers, type LocalWorkers } from './local-workers.js';
import { startMockModel } from './mock-model.js';

export interface LocalStackOptions {
  /** The project root (handlers are loaded from it, data kept under its `.local/`). */
  root: string;
  /** 0 for any free port. */
  port: number;
  /** Keep the data on disk under `.local/dynamodb` (default), or in memory only. */
  inMemory?: boolean;
  /** Where the data is kept on disk instead of `.local/dynamodb`. */
  dataDirectory?: string;
  /** Shorter visibility timeouts make retries quick in tests. */
  visibilityTimeoutSeconds?: number;
  /** Start the queue pollers (default); tests that deliver jobs themselves turn them off. */
  workers?: boolean;
  /**
   * Run the pollers and worker handlers in a thread of their own (`npm start`, the benchmarks):
   * their own module instances, as a Lambda function has, and the second core. Off by default, so
   * that tests can reach into the workers' modules.
   */
  workerThread?: boolean;
  /**
   * The file that serves an entry of the route and worker tables: by default the TypeScript source
   * itself; a test points it at the bundles that would be deployed.
   */
  entryFile?: (entry: string) => string;
  /** Answer organizations without a key of their own with the mock model (bin/local/mock-model.ts). */
  mockModel?: { tokenMs?: number };
  log?: (line: string) => void;
  /**
   * Called when a part running in a thread of its own (the store, the workers) ends while the stack
   * runs, with the reason: the stack no longer works whole (`npm start` stops). Default: the log.
   */
  onLost?: (reason: string) => void;
}

export interface LocalStack {
  url: string;
  /** Set when no CLERK_JWT_KEY / CLERK_SECRET_KEY was given and a development key pair signs tokens. */
  devKeysDirectory?: string;
  dynamoEndpoint: string;
  sqsEndpoint: string;
  /** The SQS emulator, for tests that deliver or inspect jobs themselves. */
  sqs: LocalSqs;
  dynamo: LocalDynamo;
  /** The stack's table, for tests and the benchmark that look into it. */
  db: Db;
  /** The mock model's base URL, when it runs. */
  mockModelUrl?: string;
  close(): Promise<void>;
}

export const LOCAL_STAGE = 'local';
export const LOCAL_TABLE = 'ai-chat-local';

/**
 * The whole API on this machine: dynalite, local-aws-sqs, a poller per worker and the local gateway,
 * running the very handler modules the stack deploys: dynalite in a thread of its own, the workers
 * in this thread or (workerThread) in one of their own, the rest in this thread. Configuration comes from
 * the environment as in Lambda; this sets the variables the stack would (table, queues, endpoints).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const entryFile = options.entryFile ?? ((entry: string) => join(options.root, entry));
  const env = process.env;
  let devKeys: DevKeys | undefined;
  if (!env[VARIABLES.clerkJwtKey] && !env[VARIABLES.clerkSecretKey]) {
    devKeys = ensureDevKeys(devKeysDirectory(options.root));
    env[VARIABLES.clerkJwtKey] = devKeys.publicKeyPem;
  }

  // A loss is reported only while the stack is up: during a start the start fails instead, and
  // during a close a thread ending is the close itself.
  let up = false;
  const onLost = (reason: string) => {
    if (!up) return;
    up = false;
    try {
      (options.onLost ?? ((lost: string) => log(`${lost}: the local stack no longer works whole`)))(reason);
    } catch (error) {
      log(`onLost failed: ${(error as Error).stack ?? String(error)}`);
    }
  };
  // What has started, closed in reverse order: on close, and when a later part fails to start, so
  // that a failed start leaves nothing running (no server, no thread, no open port). Every closer
  // runs even if one fails; a second close waits for the first.
  const started: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      up = false;
      const failures: unknown[] = [];
      for (const closer of started.splice(0).reverse()) await closer().catch((error: unknown) => failures.push(error));
      if (failures.length) throw failures.length === 1 ? failures[0] : new AggregateError(failures, 'parts of the local stack failed to close');
    })());
  try {
    const stack = await startParts();
    up = true;
    return stack;
  } catch (error) {
    await close().catch((closeError: unknown) => log(`closing after a failed start: ${(closeError as Error).stack ?? String(closeError)}`));
    throw error;
  }

  async function startParts(): Promise<LocalStack> {
    const dynamo = await startLocalDynamo({
      tableName: LOCAL_TABLE,
      path: options.inMemory ? undefined : (options.dataDirectory ?? join(options.root, '.local', 'dynamodb')),
      onLost,
    });
    started.push(() => dynamo.close());
    const sqs = await startLocalSqs({ stage: LOCAL_STAGE, visibilityTimeoutSeconds: options.visibilityTimeoutSeconds });
    started.push(() => sqs.close());
    const mock = options.mockModel ? await startMockModel(options.mockModel) : undefined;
    if (mock) {
      env[VARIABLES.mockModelUrl] = mock.url;
      started.push(async () => {
        await mock.close();
        delete env[VARIABLES.mockModelUrl];
      });
    }

    Object.assign(env, {
      AWS_REGION: localCredentials.region,
      AWS_ACCESS_KEY_ID: localCredentials.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: localCredentials.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      [VARIABLES.tableName]: LOCAL_TABLE,
      [VARIABLES.stage]: LOCAL_STAGE,
      // Webhooks on this machine (http://127.0.0.1) are called; in AWS only public https ones.
      [VARIABLES.webhookAllowLoopback]: '1',
      ...Object.fromEntries(Object.values(QUEUES).map((queue) => [VARIABLES[queue.urlVariable], sqs.queues[queue.id].url])),
    });
    delete env.AWS_PROFILE;

    const workerSetup = { queues: sqs.queues, sqsEndpoint: sqs.endpoint, entries: Object.fromEntries(WORKERS.map((worker) => [worker.name, entryFile(worker.entry)])) };
    const workers: LocalWorkers | undefined =
      options.workers === false ? undefined : options.workerThread ? threadWorkers(workerSetup, log, onLost) : inProcessWorkers(workerSetup, log);

    // The organizations' budgets, retention and webhooks from their variables, where the API reads them.
    const dynamoClient = new DynamoDBClient({ endpoint: dynamo.endpoint, ...localCredentials });
    started.push(async () => dynamoClient.destroy());
    const db = createDb(dynamoClient, LOCAL_TABLE);
    const seeded = await seedOrgPolicies(dynamoOrgPolicyRepository(db), env);
    if (seeded.length) log(`organization policies from the environment: ${seeded.join(', ')}`);

    // Before anything can claim: every claim in the table is then a dead worker's.
    if (!options.inMemory) {
      const requeued = await requeueWaitingWork(db);
      if (requeued) log(`put ${requeued} waiting job${requeued === 1 ? '' : 's'} back on the local queues (their jobs were lost when the last run stopped)`);
    }

    const gateway = await startGateway({
      routes: ROUTES,
      entryFile,
      port: options.port,
      corsOrigins: (env[VARIABLES.corsOrigins] ?? '*').split(',').map((origin) => origin.trim()).filter(Boolean),
      // The playground at /: tokens from the development key pair while the server signs with it.
      pages: playground({ keys: devKeys }),
      log,
    });
    // Closers run in reverse: the gateway stops taking requests before the workers stop.
    if (workers) started.push(() => workers.stop());
    started.push(() => gateway.close());
    await workers?.start();

    return {
      url: gateway.url,
      devKeysDirectory: devKeys?.directory,
      dynamoEndpoint: dynamo.endpoint,
      sqsEndpoint: sqs.endpoint,
      sqs,
      dynamo,
      db,
      mockModelUrl: mock?.url,
      close,
    };
  }
}
