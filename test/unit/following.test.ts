/** follow(): the events of a stream from successive reads of the followed item. */
import { follow, textCheck, type FollowEvent, type FollowedState } from '../../shared/jobs/following.js';
import { resumePoint } from '../../shared/api/sse.js';

async function eventsOf(states: Array<FollowedState | undefined>, options: Partial<Parameters<typeof follow>[1]> = {}): Promise<FollowEvent[]> {
  let index = 0;
  const read = async () => states[Math.min(index++, states.length - 1)];
  const events: FollowEvent[] = [];
  for await (const event of follow(read, { after: { chars: 0 }, pollMs: 1, ...options })) events.push(event);
  return events;
}
const open = (text: string): FollowedState => ({ text, finished: false, view: { text } });
const finished = (text: string): FollowedState => ({ text, finished: true, view: { text, status: 'COMPLETED' } });
const deltaText = (events: FollowEvent[]) => events.flatMap((event) => (event.type === 'delta' ? [event.content] : [])).join('');

it('sends what is new at each read, with ids counting characters and checking the text, then done with the view', async () => {
  const events = await eventsOf([open(''), open('Hel'), open('Hel'), open('Hello'), finished('Hello world')]);
  expect(events).toEqual([
    { type: 'delta', id: `3.${textCheck('Hel')}`, content: 'Hel' },
    { type: 'delta', id: `5.${textCheck('Hello')}`, content: 'lo' },
    { type: 'delta', id: `11.${textCheck('Hello world')}`, content: ' world' },
    { type: 'done', data: { text: 'Hello world', status: 'COMPLETED' } },
  ]);
});

it('resumes after `after` characters', async () => {
  expect(deltaText(await eventsOf([open('Hello'), finished('Hello world')], { after: { chars: 3, check: textCheck('Hel') } }))).toBe('lo world');
  // An id of a bare count (no check) is taken as it is.
  expect(deltaText(await eventsOf([open('Hello'), finished('Hello world')], { after: { chars: 3 } }))).toBe('lo world');
});

it('sends no delta to a resumed client whose text a try started afresh no longer extends, and ends with done', async () => {
  // The client saw "First try" (9 characters); the answer was tried again and now reads otherwise.
  const events = await eventsOf([open('Second try'), finished('Second try, whole')], { after: { chars: 9, check: textCheck('First try') } });
  expect(deltaText(events)).toBe('');
  expect(events.at(-1)).toEqual({ type: 'done', data: { text: 'Second try, whole', status: 'COMPLETED' } });
});

it('reads the resume point from Last-Event-ID: a count with its check, a bare count, or nothing', () => {
  expect(resumePoint({ 'last-event-id': `9.${textCheck('First try')}` })).toEqual({ chars: 9, check: textCheck('First try') });
  expect(resumePoint({ 'last-event-id': ' 12 ' })).toEqual({ chars: 12 });
  expect(resumePoint({ 'last-event-id': 'garbage' })).toEqual({ chars: 0 });
  expect(resumePoint({})).toEqual({ chars: 0 });
});

it('sends no more deltas once the text no longer extends what was sent (a try started afresh), and still ends with done', async () => {
  const events = await eventsOf([open('First try'), open(''), open('Second'), finished('Second try, whole')]);
  expect(deltaText(events)).toBe('First try');
  expect(events.at(-1)).toEqual({ type: 'done', data: { text: 'Second try, whole', status: 'COMPLETED' } });
});

it('ends without done when the item is gone, and after maxMs without it', async () => {
  expect(await eventsOf([open('Hi'), undefined])).toEqual([{ type: 'delta', id: `2.${textCheck('Hi')}`, content: 'Hi' }]);
  const bounded = await eventsOf([open('')], { pollMs: 5, maxMs: 40 });
  expect(bounded.every((event) => event.type === 'keep-alive')).toBe(true);
});

it('sends a keep-alive when nothing else was sent for keepAliveMs', async () => {
  const events = await eventsOf([open(''), open(''), open(''), open(''), finished('x')], { pollMs: 10, keepAliveMs: 15 });
  expect(events.filter((event) => event.type === 'keep-alive').length).toBeGreaterThanOrEqual(1);
  expect(events.at(-1)).toMatchObject({ type: 'done' });
});
