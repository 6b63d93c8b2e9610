import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvokeStoreBase } from '@aws/lambda-invoke-store';

/** A Lambda context for one local invocation, with a real deadline `timeoutSeconds` from now. */
export function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The store Lambda's runtime keeps when invocations share an execution environment: one context per
 * invocation. A handler called outside any invocation (a test calling it directly) shares one
 * context with every other such call, as with a single-invocation store.
 */
class ConcurrentInvokeStore extends InvokeStoreBase {
  readonly #scopes = new AsyncLocalStorage<Record<string | symbol, unknown>>();
  readonly #outside: Record<string | symbol, unknown> = {};
  getContext(): Record<string | symbol, unknown> | undefined {
    return this.#scopes.getStore();
  }
  hasContext(): boolean {
    return this.#scopes.getStore() !== undefined;
  }
  get<T = unknown>(key: string | symbol): T | undefined {
    return (this.#scopes.getStore() ?? this.#outside)[key] as T | undefined;
  }
  set<T = unknown>(key: string | symbol, value: T): void {
    if (this.isProtectedKey(key)) throw new Error(`Cannot modify protected Lambda context field: ${String(key)}`);
    (this.#scopes.getStore() ?? this.#outside)[key] = value;
  }
  run<T>(context: Record<string | symbol, unknown>, fn: () => T): T {
    return this.#scopes.run(context, fn);
  }
}

let concurrentStore: ConcurrentInvokeStore | undefined;

/**
 * Runs one local invocation in an invocation scope of its own, as the Lambda runtime does when an
 * execution environment runs invocations concurrently (`AWS_LAMBDA_MAX_CONCURRENCY` set): every
 * local function shares one Powertools logger, which then puts each invocation's function name,
 * request id and appended keys on that invocation's lines only.
 * @example await invokeInOwnScope(context, () => handler(event, context))
 */
export function invokeInOwnScope<T>(context: Context, invoke: () => Promise<T>): Promise<T> {
  if (!concurrentStore) {
    // Powertools reads the store from here on every access, and scopes its state only while the
    // variable is set. (The AWS SDK's first call may have put a single-invocation store there.)
    concurrentStore = new ConcurrentInvokeStore();
    globalThis.awslambda = Object.assign(globalThis.awslambda ?? {}, { InvokeStore: concurrentStore });
    process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= '64';
  }
  return concurrentStore.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: context.awsRequestId }, invoke);
}
