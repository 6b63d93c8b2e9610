import type middy from '@middy/core';
import type * as z from 'zod/mini';
import { invalid, notFound } from '../../platform/errors.js';
import type { ApiEvent } from '../types.js';
import { validate } from '../validation-messages.js';

export interface RequestSchemas {
  params?: z.ZodMiniType;
  /** Path ids that fail `params` name nothing: 404 `<notFoundName> not found.` */
  notFoundName?: string;
  query?: z.ZodMiniType;
  /** Without a body schema the route takes no body. */
  body?: z.ZodMiniType;
}

/**
 * Checks path parameters, query and body against the route's schemas and leaves what they parse
 * to on `event.input`; bad input answers 400 with one sentence naming the field.
 * @example handler.use(requestValidation({ params: SessionPathParams, notFoundName: 'Session', body: UpdateSessionBody }))
 */
export function requestValidation(schemas: RequestSchemas): middy.MiddlewareObj<ApiEvent> {
  const parse = (schema: z.ZodMiniType, input: unknown, where: 'body' | 'query'): unknown => {
    const result = validate(schema, input, where);
    if (!result.ok) throw invalid(result.message);
    return result.value;
  };
  return {
    before: ({ event }) => {
      let params: unknown;
      if (schemas.params) {
        const result = schemas.params.safeParse(event.pathParameters ?? {});
        if (!result.success) throw notFound(schemas.notFoundName ?? 'Resource');
        params = result.data;
      }
      let body: unknown;
      // No body is an empty object; a body of `null` is not an object, and is refused as one.
      if (schemas.body) body = parse(schemas.body, event.parsedBody === undefined ? {} : event.parsedBody, 'body');
      else if (event.parsedBody !== undefined) throw invalid('This request takes no body.');
      const query = schemas.query ? parse(schemas.query, event.queryStringParameters ?? {}, 'query') : undefined;
      event.input = { params, query, body };
    },
  };
}
