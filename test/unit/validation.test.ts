import { validate } from '../../shared/api/validation-messages.js';
import { CreateSessionBody, ListSessionsQuery, SessionPathParams, UpdateSessionBody } from '../../shared/sessions/schema.js';
import type * as z from 'zod/mini';

function messageFor(schema: z.ZodMiniType, input: unknown, where: 'body' | 'query' = 'body'): string {
  const result = validate(schema, input, where);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be refused`);
  return result.message;
}

describe('session request schemas', () => {
  it('accepts what the seed sends', () => {
    expect(CreateSessionBody.parse({ name: 'Patient Consultation - John Doe', system_prompt: 'You are Dr. AI' })).toEqual({
      name: 'Patient Consultation - John Doe',
      system_prompt: 'You are Dr. AI',
    });
    expect(CreateSessionBody.parse({})).toEqual({});
    expect(UpdateSessionBody.parse({ end: true })).toEqual({ end: true });
    expect(UpdateSessionBody.parse({ name: '  Updated Session Name ' })).toEqual({ name: 'Updated Session Name' });
  });

  it.each([
    [CreateSessionBody, { name: 42 }, 'Field "name" must be a string, not a number.'],
    [CreateSessionBody, { name: '   ' }, 'Field "name" must not be empty.'],
    // The contract's numbers, written out: a change of the constant alone must fail here.
    [CreateSessionBody, { name: 'x'.repeat(201) }, 'Field "name" must be at most 200 characters.'],
    [CreateSessionBody, { system_prompt: 'x'.repeat(100_001) }, 'Field "system_prompt" must be at most 100000 characters.'],
    [CreateSessionBody, { name: 'a', colour: 'red' }, 'Unknown field "colour".'],
    [CreateSessionBody, { a: 1, b: 2 }, 'Unknown fields "a", "b".'],
    [CreateSessionBody, [], 'The request body must be a JSON object.'],
    [CreateSessionBody, 'text', 'The request body must be a JSON object.'],
    [UpdateSessionBody, { end: false }, 'Field "end" can only be true: an ended session cannot be reopened.'],
    [UpdateSessionBody, {}, 'Give at least one of name, system_prompt or end.'],
    [UpdateSessionBody, { end: 'yes' }, 'Field "end" can only be true: an ended session cannot be reopened.'],
  ] as Array<[z.ZodMiniType, unknown, string]>)('refuses case %#, saying what is wrong', (schema, input, message) => {
    expect(messageFor(schema, input)).toBe(message);
  });

  it('reads list queries, with defaults and limits', () => {
    expect(ListSessionsQuery.parse({})).toEqual({ limit: 20, include_last: false });
    expect(ListSessionsQuery.parse({ limit: '1000', include_last: 'true' })).toMatchObject({ limit: 1000, include_last: true });
    expect(messageFor(ListSessionsQuery, { limit: '0' }, 'query')).toBe('Query parameter "limit" must be a whole number from 1 to 1000.');
    expect(messageFor(ListSessionsQuery, { limit: '1001' }, 'query')).toBe('Query parameter "limit" must be a whole number from 1 to 1000.');
    expect(messageFor(ListSessionsQuery, { limit: '2.5' }, 'query')).toBe('Query parameter "limit" must be a whole number from 1 to 1000.');
    expect(messageFor(ListSessionsQuery, { include_last: 'yes' }, 'query')).toBe('Query parameter "include_last" must be true or false.');
    expect(messageFor(ListSessionsQuery, { after: 'abc' }, 'query')).toBe('Query parameter "after" must be an id returned by this API.');
  });

  it('takes only our ids as session ids', () => {
    expect(SessionPathParams.safeParse({ session_id: '01M7XMMNFXWRHRCJV25Q99TNWS' }).success).toBe(true);
    for (const session_id of ['', '../x', '01M7XMMNFXWRHRCJV25Q99TNW', '01m7xmmnfxwrhrcjv25q99tnws', 'ORG#x']) {
      expect(SessionPathParams.safeParse({ session_id }).success).toBe(false);
    }
  });
});
