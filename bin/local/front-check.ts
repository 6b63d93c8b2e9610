import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { FRONT_CHECK_FILE } from '../../shared/contract/project.js';

/** A CloudFront Functions header map: lower-case names, `{ value }` each. */
type EdgeHeaders = Record<string, { value: string }>;
interface EdgeRequest {
  method: string;
  uri: string;
  headers: EdgeHeaders;
}
interface EdgeResponse {
  statusCode: number;
  headers?: EdgeHeaders;
  body?: string | { encoding: 'text' | 'base64'; data: string };
}

let handler: ((event: { context: { requestId: string }; request: EdgeRequest }) => EdgeRequest | EdgeResponse) | undefined;

/**
 * Runs the front's CloudFront Function (infra/front-check.js, the very file the stack deploys) on a
 * request, in a context of its own as CloudFront does. Returns its refusal to write back, or
 * undefined when it lets the request through; the headers it sets (`x-clerk-authorization`) are
 * put on the request.
 */
export function frontCheck(request: IncomingMessage): { statusCode: number; headers: Record<string, string>; body: string } | undefined {
  handler ??= runInNewContext(`${readFileSync(FRONT_CHECK_FILE, 'utf8')}\n;handler`, {}, { filename: FRONT_CHECK_FILE });
  const headers: EdgeHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = { value: Array.isArray(value) ? value.join(',') : value };
  }
  const result = handler!({ context: { requestId: randomUUID() }, request: { method: request.method ?? 'GET', uri: request.url?.split('?')[0] ?? '/', headers } });
  if ('statusCode' in result) {
    const body = typeof result.body === 'string' ? result.body : result.body?.encoding === 'base64' ? Buffer.from(result.body.data, 'base64').toString() : (result.body?.data ?? '');
    return { statusCode: result.statusCode, headers: Object.fromEntries(Object.entries(result.headers ?? {}).map(([name, { value }]) => [name, value])), body };
  }
  for (const [name, { value }] of Object.entries(result.headers)) {
    if (request.headers[name] !== value) request.headers[name] = value;
  }
  return undefined;
}
