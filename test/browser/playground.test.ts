/**
 * The playground in a real browser: headless Chromium from Debian (CHROMIUM_PATH, default
 * /usr/bin/chromium; .ci/run installs it) driven by playwright-core, against `npm start`'s stack
 * with the mock model. Sign in, create a session, ask and watch the answer stream in, stop a long
 * one, run a task, see an error in the API's words, delete the session. Screenshots go to
 * .local/screenshots/ (two of them are in the README).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../bin/local/local-stack.js';
import { client } from '../../bin/local/http-client.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(PROJECT_ROOT, '.local', 'screenshots');
// CI installs Chromium and requires this test; elsewhere it runs when Chromium is there.
const available = existsSync(CHROMIUM);
if (!available && process.env.BROWSER_TESTS === 'required') throw new Error(`Chromium is required for the browser tests and is not at ${CHROMIUM}: apt-get install chromium`);
const suite = available ? describe : describe.skip;
if (!available) console.warn(`Skipping the browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`);

suite('the playground in Chromium', () => {
  let stack: LocalStack;
  let browser: Browser;
  let page: Page;
  const savedJwtKey = process.env.CLERK_JWT_KEY;

  beforeAll(async () => {
    // As npm start runs without a Clerk key: tokens from the development key pair.
    delete process.env.CLERK_JWT_KEY;
    delete process.env.CLERK_SECRET_KEY;
    stack = await startLocalStack({ root: PROJECT_ROOT, port: 0, inMemory: true, mockModel: { tokenMs: 15 } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('dialog', (dialog) => void dialog.accept());
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
    if (savedJwtKey !== undefined) process.env.CLERK_JWT_KEY = savedJwtKey;
  });

  const lastAnswer = () => page.locator('#messages li[data-role="assistant"]').last();

  it('signs in, creates a session, streams an answer, stops a long one, runs a task, shows an error, deletes the session', async () => {
    await page.goto(stack.url);
    await page.getByLabel('Organization').fill('org_browser');
    await page.getByLabel('User').fill('user_browser');
    await page.getByLabel('Role').selectOption('admin');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('user_browser · org_browser (admin)').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Browser consult');
    await page.getByLabel('System prompt').fill('Answer briefly.');
    await page.getByRole('button', { name: 'Create session' }).click();
    await page.locator('#session-title', { hasText: 'Browser consult' }).waitFor();

    // The answer streams in: seen PROCESSING with part of its text, then COMPLETED.
    await page.getByLabel('Ask', { exact: true }).fill('Hello from the browser [gap:40]');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#messages li[data-role="assistant"][data-status="PROCESSING"] .content:not(:empty)').waitFor();
    const partial = await lastAnswer().locator('.content').textContent();
    await page.locator('#messages li[data-role="assistant"][data-status="COMPLETED"]').waitFor({ timeout: 20_000 });
    const full = await lastAnswer().locator('.content').textContent();
    expect(full!.startsWith(partial!)).toBe(true);
    expect(full!.length).toBeGreaterThan(partial!.length);
    expect(full).toMatch(/^You said: "Hello from the browser"/);
    await expect(lastAnswer().locator('.meta').textContent()).resolves.toMatch(/COMPLETED · mock · \d+ \+ \d+ = \d+ tokens · \d+ ms \(queue \d+ ms, model \d+ ms\)/);
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-answer.png') });

    // A long answer, stopped while it is written: what was written stays.
    await page.getByLabel('Ask', { exact: true }).fill('Tell me everything [words:400] [gap:30]');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('#messages li[data-role="assistant"][data-status="PROCESSING"] .content:not(:empty)').waitFor();
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.locator('#messages li[data-role="assistant"][data-status="CANCELLED"]').waitFor({ timeout: 20_000 });
    const stopped = await lastAnswer().locator('.content').textContent();
    expect(stopped).toMatch(/^word1\b/);
    expect(stopped!.split(' ').length).toBeLessThan(400);
    await page.getByRole('button', { name: 'Stop' }).waitFor({ state: 'hidden' });

    // A task, its JSON result pretty-printed.
    await page.getByLabel('Run a task').fill('Summarize the consult [json]');
    await page.getByRole('button', { name: 'Run task' }).click();
    await page.locator('#task-result[data-kind="json"]').waitFor({ timeout: 20_000 });
    expect(JSON.parse((await page.locator('#task-result').textContent())!)).toMatchObject({ mock: true, question: 'Summarize the consult' });
    expect(await page.locator('#task-status').textContent()).toMatch(/^done · mock/);

    // On a phone's screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SCREENSHOTS, 'playground-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });

    // An error is shown in the API's words: the session is deleted behind the page's back.
    const sessionId = await page.locator('#session-list button[aria-current="true"]').getAttribute('data-session-id');
    const { token } = (await (await fetch(`${stack.url}/playground/token`, { method: 'POST', body: JSON.stringify({ org: 'org_browser', user: 'user_browser' }) })).json()) as { token: string };
    const other = (await (await fetch(`${stack.url}/openai/sessions`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name": "Second"}' })).json()) as { session_id: string };
    expect((await client(stack.url, token).delete(`/openai/sessions/${sessionId}`)).status).toBe(200);
    await page.getByRole('button', { name: 'End session' }).click();
    await page.getByRole('alert').filter({ hasText: /not found/i }).waitFor();
    expect(await page.getByRole('alert').textContent()).not.toMatch(/Error:|at \w+ \(|\.ts:\d+/);

    // Page back through a long session's messages, then delete it from the page.
    for (let i = 1; i <= 25; i++) {
      expect((await client(stack.url, token).post(`/openai/sessions/${other.session_id}/messages`, { role: 'user', content: `note ${i}` })).status).toBe(201);
    }
    await page.reload();
    await page.getByLabel('Organization').fill('org_browser');
    await page.getByLabel('User').fill('user_browser');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#session-list button', { hasText: 'Second' }).click();
    await page.locator('#messages li', { hasText: 'note 25' }).waitFor();
    await expect(page.locator('#messages li').count()).resolves.toBe(20);
    await page.getByRole('button', { name: 'Load earlier messages' }).click();
    await page.locator('#messages li', { hasText: 'note 1' }).first().waitFor();
    const notes = await page.locator('#messages li .content').allTextContents();
    expect(notes).toEqual(Array.from({ length: 25 }, (_, i) => `note ${i + 1}`));
    await page.getByRole('button', { name: 'Load earlier messages' }).waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Delete session' }).click();
    await page.locator('#session').waitFor({ state: 'hidden' });
    await expect(page.locator('#session-list button', { hasText: 'Second' }).count()).resolves.toBe(0);
    expect((await client(stack.url, token).get(`/openai/sessions/${other.session_id}`)).status).toBe(404);
  }, 120_000);
});
