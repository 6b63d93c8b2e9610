/**
 * Each API middleware on its own, in a middy chain around a stub handler: no server, no store.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaContext } from '../../bin/local/lambda-context.js';
import { makeKeys, mintToken } from '../../bin/local/tokens.js';
import { bodyLimit } from '../../shared/api/middleware/body-limit.js';
import { clerkAuth } from '../../shared/api/middleware/clerk-auth.js';
import { errorAnswer } from '../../shared/api/middleware/error-answer.js';
import { idempotencyKey } from '../../shared/api/middleware/idempotency-key.js';
import { jsonAnswer } from '../../shared/api/middleware/json-answer.js';
import { jsonBody } from '../../shared/api/middleware/json-body.js';
import { requestValidation } from '../../shared/api/middleware/request-validation.js';
import type { ApiEvent } from '../../shared/api/types.js';
import type { IdempotencyRecords, IdempotentRequest, StoredResponse } from '../../shared/idempotency/records.js';
import { AppError, conflict } from '../../shared/platform/errors.js';
import { CreateSessionBody, SessionPathParams, UpdateSessionBody } from '../../shared/sessions/schema.js';

const SESSION_ID = '01HZY3K4M5N6P7Q8R9S0T1V2W3';

function event(overrides: Partial<APIGatewayProxyEventV2> = {}): ApiEvent {
  return {
    version: '2.0',
    routeKey: 'POST /test',
    rawPath: '/test',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    requestContext: { requestId: 'req-1', http: { method: 'POST', path: '/test' } } as APIGatewayProxyEventV2['requestContext'],
    ...overrides,
  } as ApiEvent;
}

/** A chain that answers errors in the contract's shape and JSON-encodes what `run` returns, with `used` in between. */
function chain(used: middy.MiddlewareObj<ApiEvent, APIGatewayProxyResultV2>[], run: (event: ApiEvent) => unknown = (e) => ({ input: e.input ?? null })) {
  const handler = middy<ApiEvent, APIGatewayProxyResultV2>().use(errorAnswer()).use(jsonAnswer({ status: 200 }));
  for (const middleware of used) handler.use(middleware);
  const wrapped = handler.handler(async (e) => run(e) as never);
  return async (input: ApiEvent) => {
    const result = (await wrapped(input, lambdaContext('Test', 10))) as APIGatewayProxyStructuredResultV2;
    return { status: result.statusCode, headers: result.headers ?? {}, body: JSON.parse(String(result.body)) };
  };
}

describe('bodyLimit', () => {
  const handle = chain([bodyLimit({ maxBytes: 10 })]);
  it('lets a body up to the limit through, and answers 413 body_too_large past it', async () => {
    expect((await handle(event({ body: '1234567890' }))).status).toBe(200);
    expect(await handle(event({ body: '12345678901' }))).toMatchObject({ status: 413, body: { code: 'body_too_large' } });
  });
  it('counts a base64 body by its decoded bytes', async () => {
    expect((await handle(event({ body: Buffer.from('1234567890').toString('base64'), isBase64Encoded: true }))).status).toBe(200);
  });
});

describe('jsonBody', () => {
  const handle = chain([jsonBody()], (e) => ({ parsed: e.parsedBody ?? 'none' }));
  it('parses a JSON body, and takes an empty one as none', async () => {
    expect((await handle(event({ body: '{"a":1}' }))).body).toEqual({ parsed: { a: 1 } });
    expect((await handle(event({ body: '' }))).body).toEqual({ parsed: 'none' });
  });
  it('answers 400 invalid_json and 415 unsupported_media_type, not middy’s 422', async () => {
    expect(await handle(event({ body: '{"a":' }))).toMatchObject({ status: 400, body: { code: 'invalid_json' } });
    expect(await handle(event({ body: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } }))).toMatchObject({
      status: 415,
      body: { code: 'unsupported_media_type' },
    });
  });
});

describe('requestValidation', () => {
  const handle = chain([jsonBody(), requestValidation({ params: SessionPathParams, notFoundName: 'Session', body: UpdateSessionBody })]);
  it('leaves the parsed params and body on the event', async () => {
    const answer = await handle(event({ pathParameters: { session_id: SESSION_ID }, body: '{"name":"  renamed  "}' }));
    expect(answer.body).toEqual({ input: { params: { session_id: SESSION_ID }, body: { name: 'renamed' } } });
  });
  it('answers an id that is not one of ours 404 with the route’s name for it', async () => {
    expect(await handle(event({ pathParameters: { session_id: 'nope' }, body: '{"name":"x"}' }))).toMatchObject({
      status: 404,
      body: { error: 'Session not found.', code: 'not_found' },
    });
  });
  it('answers bad input 400 with one sentence naming the field', async () => {
    expect(await handle(event({ pathParameters: { session_id: SESSION_ID }, body: '{"colour":"red"}' }))).toMatchObject({
      status: 400,
      body: { error: 'Unknown field "colour".', code: 'invalid_request' },
    });
  });
  it('refuses a body on a route that takes none', async () => {
    const noBody = chain([jsonBody(), requestValidation({ params: SessionPathParams })]);
    expect(await noBody(event({ pathParameters: { session_id: SESSION_ID }, body: '{}' }))).toMatchObject({
      status: 400,
      body: { error: 'This request takes no body.' },
    });
  });
});

describe('odd bodies, through jsonBody and requestValidation', () => {
  const handle = chain([jsonBody(), requestValidation({ body: CreateSessionBody })]);
  const send = (body: string, contentType = 'application/json') => handle(event({ body, headers: { 'content-type': contentType } }));

  it('says what is wrong with valid JSON holding __proto__ or constructor keys: unknown fields', async () => {
    expect(await send('{"name":"x","__proto__":{"admin":true}}')).toMatchObject({ status: 400, body: { error: 'Unknown field "__proto__".' } });
    expect(await send('{"constructor":{"prototype":{}}}')).toMatchObject({ status: 400, body: { error: 'Unknown field "constructor".' } });
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('refuses a body nested too deeply, saying so', async () => {
    const deep = `{"name":"x","system_prompt":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
    expect(await send(deep)).toMatchObject({ status: 400, body: { error: 'The request body is nested too deeply (at most 64 levels).', code: 'invalid_request' } });
  });

  it('refuses null as a body, as it refuses []', async () => {
    expect(await send('null')).toMatchObject({ status: 400, body: { error: 'The request body must be a JSON object.' } });
    expect(await send('[]')).toMatchObject({ status: 400, body: { error: 'The request body must be a JSON object.' } });
  });

  it('takes a UTF-8 byte order mark, and refuses any charset but UTF-8 with 415', async () => {
    expect(await send('\uFEFF{"name":"bom"}')).toMatchObject({ status: 200, body: { input: { body: { name: 'bom' } } } });
    expect(await send('{"name":"x"}', 'application/json; charset=ISO-8859-1')).toMatchObject({ status: 415, body: { code: 'unsupported_media_type' } });
    expect(await send('{"name":"x"}', 'application/json; charset=UTF-8')).toMatchObject({ status: 200 });
  });

  it('refuses a base64 body whose bytes are not UTF-8 with 415, rather than guessing its text', async () => {
    const bytes = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    expect(await handle(event({ body: bytes.toString('base64'), isBase64Encoded: true }))).toMatchObject({ status: 415, body: { code: 'unsupported_media_type' } });
  });

  it('refuses text that is not valid Unicode (a lone surrogate)', async () => {
    expect(await send('{"name":"a\\ud800b"}')).toMatchObject({
      status: 400,
      body: { error: 'Field "name" holds text that is not valid Unicode (a lone surrogate).', code: 'invalid_request' },
    });
  });
});

describe('errorAnswer and jsonAnswer', () => {
  it('answers the success status with JSON and the request id', async () => {
    const answer = await chain([])(event());
    expect(answer).toMatchObject({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req-1' } });
  });
  it('answers an AppError with its status, code and Retry-After', async () => {
    const answer = await chain([], () => {
      throw new AppError('rate_limited', 'rate_limited', 'Slow down.', { retryAfterSeconds: 7 });
    })(event());
    expect(answer).toMatchObject({ status: 429, headers: { 'retry-after': '7' }, body: { error: 'Slow down.', code: 'rate_limited' } });
  });
  it('answers a busy backend 503 and anything else 500 with the request id, never the error itself', async () => {
    const busy = await chain([], () => {
      throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    })(event());
    expect(busy).toMatchObject({ status: 503, headers: { 'retry-after': '1' }, body: { code: 'service_unavailable' } });
    const broken = await chain([], () => {
      throw new Error('secret detail');
    })(event());
    expect(broken).toMatchObject({ status: 500, body: { code: 'internal_error', request_id: 'req-1' } });
    expect(JSON.stringify(broken.body)).not.toContain('secret detail');
  });
});

describe('clerkAuth', () => {
  const keys = makeKeys();
  const handle = chain([clerkAuth({ settings: () => ({ jwtKey: keys.publicKeyPem }) })], (e) => ({ principal: e.principal }));
  it('puts the verified caller on the event', async () => {
    const token = await mintToken(keys, { org: 'org_clinic', user: 'user_doc', role: 'admin' });
    expect((await handle(event({ headers: { authorization: `Bearer ${token}` } }))).body).toEqual({
      principal: { orgId: 'org_clinic', userId: 'user_doc', role: 'org:admin' },
    });
  });
  it('answers 401 without a valid token and 403 without an organization', async () => {
    expect(await handle(event())).toMatchObject({ status: 401, body: { code: 'unauthorized' } });
    expect(await handle(event({ headers: { authorization: `Bearer ${await mintToken(makeKeys())}` } }))).toMatchObject({ status: 401 });
    const orgless = await mintToken(keys, { org: null });
    expect(await handle(event({ headers: { authorization: `Bearer ${orgless}` } }))).toMatchObject({ status: 403, body: { code: 'no_active_organization' } });
  });
});

describe('idempotencyKey', () => {
  /** Records in memory: begin replays a finished key and refuses one in progress, as the table's do. */
  function memoryRecords() {
    const stored = new Map<string, { fingerprint: string; response?: StoredResponse }>();
    const calls: string[] = [];
    const records: IdempotencyRecords = {
      async begin(principal, clientKey, request) {
        const key = `${principal.userId}/${clientKey}`;
        const fingerprint = JSON.stringify(request);
        const found = stored.get(key);
        if (found?.response) return { replay: found.response };
        if (found) throw conflict('in progress', 'idempotency_in_progress');
        stored.set(key, { fingerprint });
        calls.push(`begin ${key}`);
        return { started: { key: { pk: key, sk: 'IDEMPOTENCY' }, fingerprint, run: key } };
      },
      async finish(request: IdempotentRequest, response: StoredResponse) {
        calls.push(`finish ${request.run}`);
        stored.get(request.run)!.response = response;
      },
      async abandon(request: IdempotentRequest) {
        calls.push(`abandon ${request.run}`);
        stored.delete(request.run);
      },
    };
    return { records, calls };
  }
  const principal = { orgId: 'org_clinic', userId: 'user_doc', role: 'org:member' };
  const withKey = (key?: string) => ({ ...event({ headers: key ? { 'idempotency-key': key } : {} }), principal, parsedBody: { message: 'hi' } }) as ApiEvent;

  it('runs once per key: a retry gets the first answer, marked replayed, without running again', async () => {
    const { records, calls } = memoryRecords();
    let runs = 0;
    const handle = chain([idempotencyKey({ records: () => records, status: 202 })], () => ({ run: ++runs }));
    const first = await handle(withKey('k1'));
    const retry = await handle(withKey('k1'));
    expect(first.body).toEqual({ run: 1 });
    expect(retry).toMatchObject({ status: 202, headers: { 'idempotent-replayed': 'true', 'x-request-id': 'req-1' }, body: { run: 1 } });
    expect(runs).toBe(1);
    expect(calls).toEqual(['begin user_doc/k1', 'finish user_doc/k1']);
  });

  it('releases the key of a run that failed, so that its retry runs again', async () => {
    const { records, calls } = memoryRecords();
    let runs = 0;
    const handle = chain([idempotencyKey({ records: () => records, status: 202 })], () => {
      if (++runs === 1) throw new AppError('unavailable', 'queue_unavailable', 'Try again.');
      return { run: runs };
    });
    expect((await handle(withKey('k2'))).status).toBe(503);
    expect((await handle(withKey('k2'))).body).toEqual({ run: 2 });
    expect(calls).toEqual(['begin user_doc/k2', 'abandon user_doc/k2', 'begin user_doc/k2', 'finish user_doc/k2']);
  });

  it('does nothing without the header', async () => {
    const { records, calls } = memoryRecords();
    let runs = 0;
    const handle = chain([idempotencyKey({ records: () => records, status: 202 })], () => ({ run: ++runs }));
    await handle(withKey());
    await handle(withKey());
    expect(runs).toBe(2);
    expect(calls).toEqual([]);
  });
});
