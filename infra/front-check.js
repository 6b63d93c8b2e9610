// The front's own check of every request, before any Lambda runs: a CloudFront Function
// (cloudfront-js-2.0, viewer request) in AWS (infra/front.ts), and the same file run by the local
// gateway (bin/local/gateway.ts) so that npm start answers as the deployed API does.
//
// - A body announced larger than the API's limit is refused 413.
// - A request without `Authorization: Bearer <a JWT-shaped token>` is refused 401 (CORS preflights
//   pass). The token itself is verified by the function behind: this only keeps floods of
//   unauthenticated requests away from Lambda.
// - The token is copied to `x-clerk-authorization`: the stream routes' function URLs are reached
//   with CloudFront's origin access control, which signs each request in `Authorization`.
//
// Plain JavaScript of the CloudFront Functions runtime: no imports, one `handler`, small.
var MAX_BODY_BYTES = 262144;
// The stage's CORS origins, written in when the stack is synthesized (infra/front.ts), so that a
// browser can read a refusal; the local gateway answers CORS itself.
var CORS_ORIGINS = [];
var BEARER = /^Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

function refuse(event, statusCode, statusDescription, code, error) {
  var headers = {
    'content-type': { value: 'application/json; charset=utf-8' },
    'cache-control': { value: 'no-store' },
    // CloudFront's id of the request, to quote when asking about it.
    'x-request-id': { value: event.context.requestId },
  };
  var origin = event.request.headers.origin ? event.request.headers.origin.value : '';
  if (origin && CORS_ORIGINS.indexOf(origin) >= 0) {
    headers['access-control-allow-origin'] = { value: origin };
    headers.vary = { value: 'origin' };
  }
  return {
    statusCode: statusCode,
    statusDescription: statusDescription,
    headers: headers,
    body: { encoding: 'text', data: JSON.stringify({ error: error, code: code }) },
  };
}

function handler(event) {
  var request = event.request;
  var headers = request.headers;
  if (request.method === 'OPTIONS') return request;
  var length = headers['content-length'] ? Number(headers['content-length'].value) : 0;
  if (length > MAX_BODY_BYTES) {
    return refuse(event, 413, 'Payload Too Large', 'body_too_large', 'The request body is larger than the limit of ' + MAX_BODY_BYTES / 1024 + ' KB.');
  }
  var authorization = headers.authorization ? headers.authorization.value.trim() : '';
  if (!BEARER.test(authorization)) return refuse(event, 401, 'Unauthorized', 'unauthorized', 'A valid bearer token is required.');
  headers['x-clerk-authorization'] = { value: authorization };
  return request;
}
