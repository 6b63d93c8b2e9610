import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import type * as z from 'zod/mini';
import { authenticate, clerkSettingsFromEnv, TokenRejected } from '../auth/verify.js';
import type { Principal } from '../auth/principal.js';
import { AppError, invalid, notFound } from '../errors.js';
import { LIMITS } from '../limits.js';
import { logger } from '../logger.js';
import { publishMetrics, tracer } from '../observability.js';
import { errorResponse, jsonResponse } from './errors.js';
import { validate } from './validation.js';
import { runIdempotent } from './idempotency.js';
import { defaultDb } from '../store/db.js';

/** What a route's function gets: the verified caller and its validated input. */
export interface ApiRequest<Body, Query, Params> {
  principal: Principal;
  body: Body;
  query: Query;
  params: Params;
  headers: Record<string, string | undefined>;
  requestId: string;
  lambdaContext: Context;
}

/** What a route's function answers: a status and a JSON body. */
export interface ApiResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface RouteSpec<Body, Query, Params> {
  /** The JSON body's schema; a route without one takes no body. */
  body?: z.ZodMiniType<Body>;
  query?: z.ZodMiniType<Query>;
  /** Path parameters; ids that fail it name nothing, so they answer 404 with this name. */
  params?: z.ZodMiniType<Params>;
  notFoundName?: string;
  /** Honours an `Idempotency-Key` header: a retried POST gets the first answer instead of running twice. */
  idempotent?: boolean;
}

type Event = APIGatewayProxyEventV2 & { parsedBody?: unknown; principal?: Principal };

const jsonParser = httpJsonBodyParser();

/** Refuses bodies past the contract's limit (API Gateway would let 10 MB through). */
const bodyLimit: middy.MiddlewareObj<Event> = {
  before: ({ event }) => {
    if (!event.body) return;
    const bytes = Buffer.byteLength(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
    if (bytes > LIMITS.maxBodyBytes) {
      throw new AppError('too_large', 'body_too_large', `The request body is larger than the limit of ${LIMITS.maxBodyBytes / 1024} KB.`);
    }
  },
};

const clerk = clerkSettingsFromEnv();

/** Verifies the Clerk token and puts the caller on the event; the reason of a refusal goes to the log only. */
const clerkAuth: middy.MiddlewareObj<Event> = {
  before: async ({ event }) => {
    try {
      event.principal = await authenticate(event.headers?.authorization, clerk);
    } catch (error) {
      if (error instanceof TokenRejected) logger.warn('token rejected', { reason: error.reason });
      else if (error instanceof AppError) logger.warn('token refused', { code: error.code });
      throw error;
    }
  },
};

/** Parses a JSON body with middy's parser, answering the contract's 400 and 415 instead of its 422. */
const jsonBody: middy.MiddlewareObj<Event> = {
  before: async (request) => {
    const { event } = request;
    if (event.body === undefined || event.body === null || event.body === '') return;
    try {
      await jsonParser.before!(request as never);
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 415) {
        throw new AppError('unsupported_media_type', 'unsupported_media_type', 'Send the body as JSON with Content-Type: application/json.');
      }
      if (status && status < 500) throw invalid('The request body is not valid JSON.', 'invalid_json');
      throw error;
    }
    event.parsedBody = event.body;
  },
};

/** Answers every error in the contract's shape, including those of the middlewares used after it. */
const errorAnswer: middy.MiddlewareObj<Event, APIGatewayProxyResultV2> = {
  onError: (request) => {
    request.response = errorResponse(request.error, requestIdOf(request.event, request.context));
  },
};

function requestIdOf(event: APIGatewayProxyEventV2, context: Context): string {
  return event.requestContext?.requestId ?? context.awsRequestId;
}

function parse<T>(schema: z.ZodMiniType<T>, input: unknown, where: 'body' | 'query'): T {
  const result = validate(schema, input, where);
  if (!result.ok) throw invalid(result.message);
  return result.value;
}

/**
 * Builds a Lambda handler for one route of the HTTP API: body limit, Clerk authentication, JSON
 * parsing, zod validation and the contract's error answers, around a function that holds only the
 * route's own logic.
 */
export function apiHandler<Body = undefined, Query = undefined, Params = undefined>(
  spec: RouteSpec<Body, Query, Params>,
  run: (request: ApiRequest<Body, Query, Params>) => Promise<ApiResult>,
) {
  return middy<Event, APIGatewayProxyResultV2>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(publishMetrics)
    .use(errorAnswer)
    .use(bodyLimit)
    .use(clerkAuth)
    .use(jsonBody)
    .handler(async (event, context) => {
      const requestId = requestIdOf(event, context);
      let params = undefined as Params;
      if (spec.params) {
        const result = spec.params.safeParse(event.pathParameters ?? {});
        if (!result.success) throw notFound(spec.notFoundName ?? 'Resource');
        params = result.data;
      }
      let body = undefined as Body;
      if (spec.body) body = parse(spec.body, event.parsedBody ?? {}, 'body');
      else if (event.parsedBody !== undefined) throw invalid('This request takes no body.');
      const query = spec.query ? parse(spec.query, event.queryStringParameters ?? {}, 'query') : (undefined as Query);
      const principal = event.principal!;
      const call = () => run({ principal, body, query, params, headers: event.headers ?? {}, requestId, lambdaContext: context });
      const idempotencyKey = spec.idempotent ? event.headers?.['idempotency-key'] : undefined;
      const result =
        idempotencyKey === undefined
          ? await call()
          : await runIdempotent(defaultDb(), principal, idempotencyKey, { method: event.requestContext.http.method, path: event.rawPath, body: event.parsedBody }, call);
      return jsonResponse(result.status, result.body, requestId, result.headers);
    });
}
