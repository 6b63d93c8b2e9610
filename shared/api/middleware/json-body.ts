import type middy from '@middy/core';
import { AppError, invalid } from '../../platform/errors.js';
import type { ApiEvent } from '../types.js';

/** Deeper than any body of this API: past it, a body is refused before any schema walks it. */
const MAX_DEPTH = 64;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const unsupported = (message: string) => new AppError('unsupported_media_type', 'unsupported_media_type', message);

/**
 * Parses a JSON body onto `event.parsedBody`. Answers the contract's 415 for a body that is not
 * JSON or not UTF-8, 400 `invalid_json` for text that does not parse, and 400 `invalid_request` for
 * JSON this API cannot take as it is: nested deeper than 64 levels, or holding a lone surrogate
 * (text that is not valid Unicode). A UTF-8 byte order mark is skipped; an empty body is no body.
 * Keys such as `__proto__` are ordinary keys here (JSON.parse makes them own properties), which the
 * route's strict schema then names as unknown fields.
 * @example handler.use(jsonBody())
 */
export function jsonBody(): middy.MiddlewareObj<ApiEvent> {
  return {
    before: ({ event }) => {
      if (event.body === undefined || event.body === null || event.body === '') return;
      const contentType = event.headers?.['content-type'] ?? event.headers?.['Content-Type'] ?? '';
      if (!JSON_TYPE.test(contentType)) throw unsupported('Send the body as JSON with Content-Type: application/json.');
      const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1];
      if (charset && !/^utf-?8$/i.test(charset)) throw unsupported(`Send the body as UTF-8 JSON: charset ${charset.slice(0, 40)} is not supported.`);
      let text = event.body;
      if (event.isBase64Encoded) {
        try {
          text = UTF8.decode(Buffer.from(event.body, 'base64'));
        } catch {
          throw unsupported('Send the body as UTF-8 JSON: it holds bytes that are not UTF-8.');
        }
      }
      text = text.replace(/^\uFEFF/, '');
      if (text === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw invalid('The request body is not valid JSON.', 'invalid_json');
      }
      checkShape(parsed);
      event.parsedBody = parsed;
    },
  };
}

/** Walks the parsed body without recursion (so depth cannot overflow the stack). */
function checkShape(body: unknown): void {
  const pending: Array<{ value: unknown; depth: number; path: string }> = [{ value: body, depth: 0, path: '' }];
  while (pending.length) {
    const { value, depth, path } = pending.pop()!;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) {
        throw invalid(`${path ? `Field "${path}"` : 'The request body'} holds text that is not valid Unicode (a lone surrogate).`);
      }
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_DEPTH) throw invalid(`The request body is nested too deeply (at most ${MAX_DEPTH} levels).`);
    for (const [key, child] of Object.entries(value)) {
      const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (LONE_SURROGATE.test(key)) throw invalid(`A field name in the request body is not valid Unicode (a lone surrogate).`);
      pending.push({ value: child, depth: depth + 1, path: childPath });
    }
  }
}
