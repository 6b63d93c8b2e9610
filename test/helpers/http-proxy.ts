import { createServer, request as forward, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a test's proxy does with one request: let it through, or answer it itself. */
export type ProxyRule = (request: IncomingMessage, response: ServerResponse, pass: (onAnswer?: (answer: IncomingMessage) => void) => void) => void;

/**
 * An HTTP proxy in front of the local API for client tests: each request goes to `rule`, which lets
 * it through (`pass()`, optionally watching or cutting the answer) or answers it itself, so that a
 * test can inject what no server does on demand (a 429, a dropped stream, a lost answer).
 */
export async function startHttpProxy(target: string, rule: ProxyRule): Promise<{ url: string; seen: Array<{ method: string; path: string; headers: IncomingMessage['headers'] }>; close(): Promise<void> }> {
  const upstream = new URL(target);
  const seen: Array<{ method: string; path: string; headers: IncomingMessage['headers'] }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers });
    rule(req, res, (onAnswer) => {
      const proxied = forward({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        if (onAnswer) return onAnswer(answer);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      proxied.on('error', () => res.destroy());
      req.pipe(proxied);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
