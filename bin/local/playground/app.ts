/**
 * The playground (npm start serves it at /): sign in, work with sessions, ask and watch the answer
 * stream in, stop it, run tasks. Built with the client library, as any app would be; errors are
 * shown as the API's sentence.
 */
import { ApiError, createClient, type Client, type Message, type Session } from '@ai-chat/client';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const show = (element: HTMLElement, visible = true) => (element.hidden = !visible);

let token = '';
let api: Client | undefined;
let current: Session | undefined;
let sessionsAfter: string | undefined;
let earlierAfter: string | undefined;
let stopCurrent: (() => Promise<unknown>) | undefined;

/** Shows what went wrong in the API's own sentence (never a stack trace). */
function report(error: unknown): void {
  const box = $('error');
  box.textContent = error instanceof ApiError ? error.message : 'Something went wrong in the page. Reload it and try again.';
  show(box);
  if (!(error instanceof ApiError)) console.error(error);
}
const clearError = () => show($('error'), false);

/** Runs `work`, reporting its failure and keeping `button` disabled meanwhile. */
async function guarded(work: () => Promise<void>, button?: HTMLButtonElement): Promise<void> {
  clearError();
  if (button) button.disabled = true;
  try {
    await work();
  } catch (error) {
    report(error);
  } finally {
    if (button) button.disabled = false;
  }
}

function signedIn(who: string): void {
  api = createClient({ baseUrl: `${location.origin}/openai`, token: () => token });
  $('who').textContent = who;
  show($('who'));
  show($('sign-out'));
  show($('sign-in'), false);
  show($('workspace'));
  void guarded(() => loadSessions(true));
}

// Sign in: with a token minted from the development key pair, or a pasted one.
async function setUpSignIn(): Promise<void> {
  const config = (await (await fetch('/playground/config')).json()) as { devTokens: boolean };
  show($(config.devTokens ? 'dev-sign-in' : 'token-sign-in'));
  $('dev-sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    void guarded(async () => {
      const answer = await fetch('/playground/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(Object.fromEntries(form)) });
      const body = (await answer.json()) as { token?: string; error?: string; code?: string };
      if (!answer.ok || !body.token) throw new ApiError(answer.status, body.code ?? 'sign_in_failed', body.error ?? 'Could not sign in.');
      token = body.token;
      signedIn(`${form.get('user')} · ${form.get('org')} (${form.get('role')})`);
    }, (event.target as HTMLFormElement).querySelector('button')!);
  });
  $('token-sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    token = String(new FormData(event.target as HTMLFormElement).get('token') ?? '').trim();
    signedIn('signed in with a token');
  });
  $('sign-out').addEventListener('click', () => location.reload());
}

// Sessions: newest first, a page at a time.
async function loadSessions(fresh: boolean): Promise<void> {
  if (fresh) {
    $('session-list').replaceChildren();
    sessionsAfter = undefined;
  }
  const page = await api!.sessions.list({ limit: 20, after: sessionsAfter });
  for (const session of page.items) $('session-list').append(sessionItem(session));
  sessionsAfter = page.next ?? undefined;
  show($('more-sessions'), page.has_more);
}

function sessionItem(session: Session): HTMLLIElement {
  const item = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.sessionId = session.session_id;
  button.textContent = `${session.name}${session.session_end ? ' (ended)' : ''}`;
  button.addEventListener('click', () => void guarded(() => openSession(session.session_id)));
  item.append(button);
  return item;
}

async function openSession(sessionId: string): Promise<void> {
  current = await api!.sessions.get(sessionId);
  for (const button of $('session-list').querySelectorAll('button')) button.setAttribute('aria-current', String(button.dataset.sessionId === sessionId));
  renderSessionHead();
  $('messages').replaceChildren();
  earlierAfter = undefined;
  $('task-result').textContent = '';
  show($('task-result'), false);
  $('task-status').textContent = '';
  show($('session'));
  await loadEarlier();
}

function renderSessionHead(): void {
  $('session-title').textContent = current!.name;
  $('session-meta').textContent = `${current!.message_count} messages · started ${new Date(current!.session_start).toLocaleString()}${current!.session_end ? ` · ended ${new Date(current!.session_end).toLocaleString()}` : ''}${current!.system_prompt ? ` · system prompt: ${current!.system_prompt}` : ''}`;
  ($('rename-name') as HTMLInputElement).value = current!.name;
  ($('end-session') as HTMLButtonElement).disabled = Boolean(current!.session_end);
  ($('send') as HTMLButtonElement).disabled = Boolean(current!.session_end);
  ($('run-task') as HTMLButtonElement).disabled = Boolean(current!.session_end);
}

// Messages: the newest page first, earlier ones on demand.
async function loadEarlier(): Promise<void> {
  const page = await api!.messages.list(current!.session_id, { limit: 20, after: earlierAfter, order: 'desc' });
  for (const message of page.items) $('messages').prepend(messageCard(message));
  earlierAfter = page.next ?? undefined;
  show($('earlier'), page.has_more);
}

/** A message's card: who, what, and for an answer its status, model, usage and latency split. */
function messageCard(message: Message): HTMLLIElement {
  const card = document.createElement('li');
  card.className = 'message';
  card.dataset.messageId = message.message_id;
  const role = document.createElement('div');
  role.className = 'role';
  const content = document.createElement('div');
  content.className = 'content';
  const meta = document.createElement('div');
  meta.className = 'meta';
  card.append(role, content, meta);
  fillCard(card, message);
  return card;
}

function fillCard(card: HTMLElement, message: Message): void {
  card.dataset.role = message.role;
  card.dataset.status = message.status;
  card.querySelector('.role')!.textContent = message.role;
  card.querySelector('.content')!.textContent = message.content;
  const parts: string[] = [message.status];
  if (message.model) parts.push(message.model);
  if (message.usage) parts.push(`${message.usage.prompt_tokens} + ${message.usage.completion_tokens} = ${message.usage.total_tokens} tokens`);
  if (message.latency_ms !== undefined) {
    parts.push(`${message.latency_ms} ms${message.timings ? ` (queue ${message.timings.queue_ms} ms, model ${message.timings.model_ms} ms)` : ''}`);
  }
  if (message.error && message.status !== 'COMPLETED') parts.push(message.error);
  card.querySelector('.meta')!.textContent = message.role === 'assistant' ? parts.join(' · ') : '';
}

// Asking: the question, then the answer streaming into its card; Stop cancels it.
async function ask(message: string): Promise<void> {
  const sessionId = current!.session_id;
  const accepted = await api!.ask(sessionId, { message });
  const now = new Date().toISOString();
  $('messages').append(
    messageCard({ message_id: accepted.user_message_id, session_id: sessionId, role: 'user', content: message, status: 'COMPLETED', created_at: now }),
  );
  const answer: Message = { message_id: accepted.message_id, session_id: sessionId, role: 'assistant', content: '', status: 'PENDING', created_at: now };
  const card = messageCard(answer);
  $('messages').append(card);
  stopCurrent = () => accepted.cancel();
  show($('stop'));
  try {
    const stream = accepted.stream();
    for await (const text of stream) {
      answer.content += text;
      answer.status = 'PROCESSING';
      fillCard(card, answer);
    }
    fillCard(card, await stream.final);
  } finally {
    stopCurrent = undefined;
    show($('stop'), false);
    current = await api!.sessions.get(sessionId);
    renderSessionHead();
  }
}

async function runTask(task: string): Promise<void> {
  const status = $('task-status');
  status.textContent = 'pending…';
  const started = await api!.tasks.create(current!.session_id, { task });
  const finished = await started.wait();
  status.textContent = [finished.status, finished.model, finished.usage && `${finished.usage.total_tokens} tokens`, finished.error].filter(Boolean).join(' · ');
  const result = $('task-result');
  result.textContent = finished.result_json !== undefined ? JSON.stringify(finished.result_json, null, 2) : (finished.result ?? '');
  result.dataset.kind = finished.result_json !== undefined ? 'json' : 'text';
  show(result, Boolean(result.textContent));
}

function wire(): void {
  $('new-session').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const fields = new FormData(form);
    const name = String(fields.get('name') ?? '').trim();
    const systemPrompt = String(fields.get('system_prompt') ?? '').trim();
    void guarded(async () => {
      const session = await api!.sessions.create({ ...(name ? { name } : {}), ...(systemPrompt ? { system_prompt: systemPrompt } : {}) });
      form.reset();
      await loadSessions(true);
      await openSession(session.session_id);
    }, form.querySelector('button')!);
  });
  $('more-sessions').addEventListener('click', (event) => void guarded(() => loadSessions(false), event.target as HTMLButtonElement));
  $('earlier').addEventListener('click', (event) => void guarded(loadEarlier, event.target as HTMLButtonElement));
  $('rename').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = String(new FormData(event.target as HTMLFormElement).get('name') ?? '').trim();
    void guarded(async () => {
      current = await api!.sessions.update(current!.session_id, { name });
      renderSessionHead();
      await loadSessions(true);
    });
  });
  $('end-session').addEventListener('click', (event) =>
    void guarded(async () => {
      current = await api!.sessions.end(current!.session_id);
      renderSessionHead();
      await loadSessions(true);
    }, event.target as HTMLButtonElement),
  );
  $('delete-session').addEventListener('click', (event) =>
    void guarded(async () => {
      if (!confirm(`Delete "${current!.name}" with its messages and tasks?`)) return;
      await api!.sessions.delete(current!.session_id);
      current = undefined;
      show($('session'), false);
      await loadSessions(true);
    }, event.target as HTMLButtonElement),
  );
  $('ask').addEventListener('submit', (event) => {
    event.preventDefault();
    const question = $('question') as HTMLTextAreaElement;
    const message = question.value.trim();
    if (!message) return;
    question.value = '';
    void guarded(() => ask(message), $('send') as HTMLButtonElement);
  });
  $('stop').addEventListener('click', () => void guarded(async () => void (await stopCurrent?.())));
  $('task').addEventListener('submit', (event) => {
    event.preventDefault();
    const task = String(new FormData(event.target as HTMLFormElement).get('task') ?? '').trim();
    void guarded(() => runTask(task), $('run-task') as HTMLButtonElement);
  });
}

wire();
void setUpSignIn().catch(report);
