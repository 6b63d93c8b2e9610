import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A fault to answer instead of forwarding: an AWS JSON-protocol error. */
export interface AwsFault {
  /** The operation it hits (`x-amz-target`'s last part, e.g. `PutItem`). */
  operation: string;
  status: number;
  /** The error's type, e.g. `ProvisionedThroughputExceededException`. */
  type: string;
  times: number;
  /** Requests of that operation let through first (to reach, say, the second UpdateItem of a job). */
  skip?: number;
  /** The request reaches the emulator and takes effect; only its answer is lost (a timeout after the fact). */
  afterForwarding?: boolean;
}

export interface FaultProxy {
  url: string;
  /** Requests answered with a fault so far, by operation. */
  injected: Map<string, number>;
  /** Requests received so far (faulted or not), by operation. */
  received: Map<string, number>;
  fail(fault: AwsFault): void;
  clear(): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of an AWS emulator (dynalite, local-aws-sqs) that answers chosen
 * operations with AWS errors, as the service itself would (throttling, 5xx), and forwards the rest:
 * faults no emulator produces, injected at the protocol rather than by mocking a client.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  let faults: AwsFault[] = [];
  const injected = new Map<string, number>();
  const received = new Map<string, number>();
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    received.set(operation, (received.get(operation) ?? 0) + 1);
    const fault = faults.find((candidate) => candidate.operation === operation && candidate.times > 0);
    const answerWithFault = (active: AwsFault): void => {
      injected.set(operation, (injected.get(operation) ?? 0) + 1);
      res.writeHead(active.status, { 'content-type': String(req.headers['content-type'] ?? 'application/x-amz-json-1.0'), 'x-amzn-errortype': active.type });
      res.end(JSON.stringify({ __type: active.type, message: `injected ${active.type}` }));
    };
    let lostAnswer: AwsFault | undefined;
    if (fault?.skip) fault.skip--;
    else if (fault) {
      fault.times--;
      if (!fault.afterForwarding) {
        req.resume();
        return answerWithFault(fault);
      }
      lostAnswer = fault;
    }
    const proxied = forward(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        if (lostAnswer) {
          answer.resume();
          return answer.on('end', () => answerWithFault(lostAnswer!));
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    proxied.on('error', () => res.destroy());
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    received,
    fail: (fault) => faults.push({ ...fault }),
    clear: () => {
      faults = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
