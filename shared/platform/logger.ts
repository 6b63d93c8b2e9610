import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';

/**
 * Structured logs: one JSON line per entry, as Powertools' Logger writes them (`level`, `message`,
 * `timestamp`, `service`, and the invocation's `cold_start`, `function_name`, `function_arn`,
 * `function_memory_size`, `function_request_id`), at `POWERTOOLS_LOG_LEVEL` and above. These few
 * lines stand in for Powertools' Logger (21 KB of every bundle, and a cold start's worth of it):
 * this service uses its lines and its Lambda context, nothing more.
 *
 * Each invocation's context is kept in Lambda's invocation store when invocations share an
 * execution environment (`globalThis.awslambda.InvokeStore`, which the local stack provides as
 * Lambda does), so that concurrent invocations' lines each carry their own; else in this module.
 */
const LEVELS = { DEBUG: 8, INFO: 12, WARN: 16, ERROR: 20, CRITICAL: 24, SILENT: 28 } as const;
type Level = Exclude<keyof typeof LEVELS, 'SILENT'>;

interface InvocationFields {
  cold_start: boolean;
  function_arn: string;
  function_memory_size: string;
  function_name: string;
  function_request_id: string;
}

interface InvokeStore {
  hasContext(): boolean;
  get<T>(key: string | symbol): T | undefined;
  set(key: string | symbol, value: unknown): void;
}

const CONTEXT_KEY = Symbol.for('ai-chat.logger.invocation');
let outsideStore: InvocationFields | undefined;
let coldStart = true;

const invokeStore = (): InvokeStore | undefined => {
  const store = (globalThis as { awslambda?: { InvokeStore?: InvokeStore } }).awslambda?.InvokeStore;
  return store?.hasContext() ? store : undefined;
};
const invocation = (): InvocationFields | undefined => invokeStore()?.get<InvocationFields>(CONTEXT_KEY) ?? outsideStore;

const threshold = (): number => LEVELS[(process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase() as keyof typeof LEVELS] ?? LEVELS.INFO;

/** A field's value as logged: an error by its name and message (never its stack), everything else as it is. */
const loggable = (value: unknown): unknown => (value instanceof Error ? { name: value.name, message: value.message } : value);

/** A logger of one service: `logger.warn('a progress write failed', { error: error.name })`. */
export function createLogger(serviceName: string) {
  const write = (level: Level, message: string, fields: Record<string, unknown> = {}): void => {
    if (LEVELS[level] < threshold()) return;
    const extra = Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, loggable(value)]));
    process.stdout.write(`${JSON.stringify({ level, message, timestamp: new Date().toISOString(), service: serviceName, ...invocation(), ...extra })}\n`);
  };
  return {
    debug: (message: string, fields?: Record<string, unknown>) => write('DEBUG', message, fields),
    info: (message: string, fields?: Record<string, unknown>) => write('INFO', message, fields),
    warn: (message: string, fields?: Record<string, unknown>) => write('WARN', message, fields),
    error: (message: string, fields?: Record<string, unknown>) => write('ERROR', message, fields),
    critical: (message: string, fields?: Record<string, unknown>) => write('CRITICAL', message, fields),
  };
}

export type Logger = ReturnType<typeof createLogger>;

/**
 * A middleware that puts the invocation's Lambda context on every line logged during it.
 * @example handler.use(injectLambdaContext())
 */
export function injectLambdaContext(): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    before: ({ context }) => {
      const fields: InvocationFields = {
        cold_start: coldStart,
        function_arn: context.invokedFunctionArn,
        function_memory_size: String(context.memoryLimitInMB),
        function_name: context.functionName,
        function_request_id: context.awsRequestId,
      };
      coldStart = false;
      const store = invokeStore();
      if (store) store.set(CONTEXT_KEY, fields);
      else outsideStore = fields;
    },
  };
}
