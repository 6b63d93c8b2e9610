import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { frontCheck } from './front-check.js';
import { routeKey, type RouteDefinition } from '../../shared/contract/routes.js';
import { LIMITS } from '../../shared/platform/limits.js';
import { invokeInOwnScope, lambdaContext } from './lambda-context.js';
import { installLambdaStreaming, isStreamingHandler, LocalResponseStream } from './lambda-streaming.js';

type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;
type StreamingHandler = (event: APIGatewayProxyEventV2, stream: LocalResponseStream, context: Context) => Promise<unknown>;

export interface GatewayOptions {
  routes: readonly RouteDefinition[];
  /** The file that serves a route's `entry` (the source module, or a bundle). */
  entryFile: (entry: string) => string;
  port: number;
  host?: string;
  /** Origins allowed by CORS, as the HTTP API's CORS settings; empty for none. */
  corsOrigins?: string[];
  /** API Gateway's integration timeout. */
  timeoutSeconds?: number;
  /** Pages of the local stack's own (the playground), answered before the API: true when it answered. */
  pages?: (request: IncomingMessage, response: ServerResponse) => Promise<boolean>;
  log?: (line: string) => void;
}

export interface LocalGateway {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** How much of a body too large is still read (and dropped) so that the 413 answer reaches the client. */
const DRAIN_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** API Gateway passes these content types as text and base64-encodes the rest. */
const TEXT_CONTENT = /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/i;

interface CompiledRoute {
  route: RouteDefinition;
  pattern: RegExp;
  params: string[];
}

/**
 * A small stand-in for API Gateway's HTTP API: it turns each request into a payload 2.0 event,
 * calls the handler module the route names (the same module the stack deploys) and writes back its
 * answer. Unmatched requests go to the `$default` route, as in the deployed API.
 */
export async function startGateway(options: GatewayOptions): Promise<LocalGateway> {
  installLambdaStreaming();
  const compiled: CompiledRoute[] = options.routes
    .filter((route) => route.path !== '$default')
    .map((route) => {
      const params: string[] = [];
      const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_match, name: string) => {
        params.push(name);
        return '([^/]+)';
      });
      return { route, pattern: new RegExp(`^${source}$`), params };
    });
  const fallback = options.routes.find((route) => route.path === '$default');
  const handlers = new Map<string, Promise<ApiHandler>>();
  const load = (route: RouteDefinition): Promise<ApiHandler> => {
    let handler = handlers.get(route.name);
    if (!handler) {
      handler = import(pathToFileURL(options.entryFile(route.entry)).href).then((module) => module.handler as ApiHandler);
      handlers.set(route.name, handler);
    }
    return handler;
  };

  const server = createServer((request, response) => {
    const started = performance.now();
    response.on('finish', () =>
      options.log?.(`${request.method} ${request.url?.split('?')[0]} ${response.statusCode} ${Math.round(performance.now() - started)}ms`),
    );
    void serve(request, response).catch((error: unknown) => {
      options.log?.(`gateway error: ${(error as Error).stack ?? String(error)}`);
      if (!response.headersSent) writeJson(response, 500, { error: 'Internal Server Error', code: 'internal_error' });
      else response.destroy();
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const origin = request.headers.origin;
    const allowOrigin = origin && options.corsOrigins?.some((allowed) => allowed === '*' || allowed === origin) ? origin : undefined;
    if (allowOrigin) {
      response.setHeader('access-control-allow-origin', allowOrigin);
      response.setHeader('vary', 'origin');
    }
    if (request.method === 'OPTIONS' && allowOrigin && request.headers['access-control-request-method']) {
      response.writeHead(204, {
        'access-control-allow-methods': 'GET,POST,PATCH,DELETE,OPTIONS',
        'access-control-allow-headers': 'authorization,content-type,idempotency-key',
        'access-control-max-age': '600',
      });
      response.end();
      return;
    }

    if (options.pages && !request.url?.startsWith('/openai') && (await options.pages(request, response))) return;

    // The front's check, as CloudFront runs it before any function (infra/front-check.js).
    const refusal = frontCheck(request);
    if (refusal) {
      response.writeHead(refusal.statusCode, refusal.headers);
      response.end(refusal.body);
      return;
    }

    const body = await readBody(request);
    if (body === 'too-large') {
      writeJson(response, 413, {
        error: `The request body is larger than the limit of ${LIMITS.maxBodyBytes / 1024} KB.`,
        code: 'body_too_large',
      });
      return;
    }

    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    let route = fallback;
    let pathParameters: Record<string, string> | undefined;
    for (const candidate of compiled) {
      if (candidate.route.method !== method) continue;
      const match = candidate.pattern.exec(url.pathname);
      if (!match) continue;
      route = candidate.route;
      pathParameters = Object.fromEntries(candidate.params.map((name, index) => [name, safeDecode(match[index + 1]!)]));
      break;
    }
    if (!route) {
      writeJson(response, 404, { error: 'Not Found', code: 'route_not_found' });
      return;
    }

    const event = toEvent(request, url, body, route, pathParameters);
    const handler = await load(route);
    const context = lambdaContext(route.name, route.timeoutSeconds ?? options.timeoutSeconds ?? 29);
    if (isStreamingHandler(handler)) {
      // As Lambda does for a response-streaming function: the handler writes the answer itself.
      const stream = new LocalResponseStream(response);
      await invokeInOwnScope(context, () => (handler as unknown as StreamingHandler)(event, stream, context));
      if (!response.writableEnded) response.end();
      return;
    }
    const result = await invokeInOwnScope(context, () => handler(event, context));
    writeResult(response, result);
  }

  // Node answers headers past its limit with an empty 431; answer in the contract's shape instead.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
    const [status, body] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? ['431 Request Header Fields Too Large', { error: 'The request headers are too large. Send a shorter token or fewer headers.', code: 'headers_too_large' }]
        : ['400 Bad Request', { error: 'The request is not valid HTTP.', code: 'bad_request' }];
    const text = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The whole body, or 'too-large' once past the contract's limit (the rest is read and dropped, as API Gateway does). */
async function readBody(request: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    // Past API Gateway's own limit the rest is read and dropped, so the client gets the 413 answer
    // rather than a reset connection; far past it, the connection is closed.
    if (size > DRAIN_MAX_BODY_BYTES) {
      request.destroy();
      return 'too-large';
    }
    if (size <= LIMITS.maxBodyBytes) chunks.push(chunk as Buffer);
  }
  return size > LIMITS.maxBodyBytes ? 'too-large' : Buffer.concat(chunks);
}

function toEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  route: RouteDefinition,
  pathParameters: Record<string, string> | undefined,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const isText = TEXT_CONTENT.test(headers['content-type'] ?? '');
  const now = new Date();
  return {
    version: '2.0',
    routeKey: routeKey(route),
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: request.headers.cookie?.split(';').map((cookie) => cookie.trim()),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: routeKey(route),
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    body: body.length ? (isText ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** Writes a handler's answer as API Gateway does, including its inference for bare (non-structured) results. */
function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  const structured: APIGatewayProxyStructuredResultV2 =
    typeof result === 'object' && result !== null && 'statusCode' in result
      ? result
      : { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result) };
  const body = structured.body ? Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {})) headers[name] = String(value);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  response.writeHead(structured.statusCode ?? 200, headers);
  response.end(body);
}

function writeJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
