/** The check every integration answer goes through (test/helpers/openapi-responses.ts) finds what does not conform. */
import { openApiProblems } from '../helpers/openapi-responses.js';

const ID = '01HZY3K4M5N6P7Q8R9S0T1V2W3';
const session = {
  session_id: ID,
  name: 'n',
  system_prompt: null,
  session_start: '2026-12-01T10:00:00.000Z',
  session_end: null,
  user_id: 'user_a',
  org_id: 'org_a',
  message_count: 0,
};

it('passes an answer that conforms, errors included', () => {
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 200, session)).toEqual([]);
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 404, { error: 'Session not found.', code: 'not_found' })).toEqual([]);
  expect(openApiProblems('GET', '/nowhere', 404, { error: 'There is no GET /nowhere in this API.', code: 'route_not_found' })).toEqual([]);
});

it('finds a field too many, a field missing, a wrong type, an undocumented status or path', () => {
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 200, { ...session, secret: 1 })).not.toEqual([]);
  const { name: _name, ...nameless } = session;
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 200, nameless)).not.toEqual([]);
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 200, { ...session, message_count: '0' })).not.toEqual([]);
  expect(openApiProblems('GET', `/openai/sessions/${ID}`, 418, { error: 'x', code: 'x' })).not.toEqual([]);
  expect(openApiProblems('GET', '/nowhere', 200, {})).not.toEqual([]);
  expect(openApiProblems('POST', `/openai/sessions/${ID}/ask`, 400, { message: 'not an error body' })).not.toEqual([]);
});
