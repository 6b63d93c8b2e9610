import type { MiddlewareObj } from '@middy/core';

/**
 * X-Ray tracing that costs nothing when it is off. Clients are registered with `traced()`; the
 * Powertools tracer (and the X-Ray SDK with its async hooks) is loaded only by `tracing()` in a
 * worker, only when tracing is on (in Lambda with active tracing: `_X_AMZN_TRACE_ID` and the daemon
 * address are set), and only then are the registered clients captured. The API functions do not
 * load it at all: Lambda's active tracing records their invocations without it, and their bundles
 * stay small.
 */
type Capture = <Client>(client: Client) => Client;

let capture: Capture | undefined;
const registered: object[] = [];

/** Registers an AWS SDK client: its calls become trace subsegments when tracing is on. */
export function traced<Client extends object>(client: Client): Client {
  if (capture) return capture(client);
  registered.push(client);
  return client;
}

/** Whether this process is a Lambda invocation with active tracing (locally, never). */
const tracingOn = (): boolean => Boolean(process.env.AWS_XRAY_DAEMON_ADDRESS) && process.env.POWERTOOLS_TRACE_ENABLED !== 'false';

/**
 * A middleware that traces each invocation with Powertools (a segment per invocation, the
 * registered clients' calls inside it), loading the tracer on the first invocation if tracing is on.
 * @example middy(handler).use(tracing())
 */
export function tracing(): MiddlewareObj {
  let inner: Promise<MiddlewareObj | undefined> | undefined;
  const load = () =>
    (inner ??= tracingOn()
      ? Promise.all([import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')]).then(([{ Tracer }, { captureLambdaHandler }]) => {
          const tracer = new Tracer();
          capture = (client) => tracer.captureAWSv3Client(client);
          for (const client of registered.splice(0)) capture(client);
          return captureLambdaHandler(tracer, { captureResponse: false });
        })
      : Promise.resolve(undefined));
  return {
    before: async (request) => {
      await (await load())?.before?.(request);
    },
    after: async (request) => {
      await (await load())?.after?.(request);
    },
    onError: async (request) => {
      await (await load())?.onError?.(request);
    },
  };
}
