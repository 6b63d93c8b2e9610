/**
 * The stage's system prompt lives in the answering workers' bundles (esbuild `define`), not in an
 * environment variable of every function: Lambda allows 4 KB of those per function, and the
 * setting takes 100,000 characters.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildBundles } from '../../bin/tools/bundles.js';
import { makeKeys } from '../../bin/local/tokens.js';
import { buildApp } from '../../infra/build-app.js';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { SYSTEM_PROMPT_DEFINE } from '../../shared/platform/system-prompt.js';

const CDK_JSON_CONTEXT = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')).context;
const longPrompt = `You are a careful assistant. ${'Answer in plain words, cite the record. '.repeat(2400)}`.slice(0, 100_000);

it('synthesizes a stage with a 100,000-character system prompt, which no function has in its environment', () => {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], stage: 'dev', systemPrompt: longPrompt } });
  const template = Template.fromStack(buildApp(app, { CLERK_JWT_KEY: makeKeys().publicKeyPem }));
  for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
    const variables = fn.Properties.Environment?.Variables ?? {};
    expect(variables.AI_SYSTEM_PROMPT).toBeUndefined();
    // Lambda's limit on a function's environment variables, names and values together.
    expect(Object.entries(variables).reduce((size, [name, value]) => size + name.length + JSON.stringify(value).length, 0)).toBeLessThan(4096);
  }
}, 60_000);

it('builds the prompt into a bundle made with the define the workers get, and leaves it out otherwise', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'prompt-bundle-'));
  try {
    const entry = 'shared/platform/system-prompt.ts';
    const withPrompt = await buildBundles(join(dir, 'with'), [entry], { define: { [SYSTEM_PROMPT_DEFINE]: JSON.stringify(longPrompt) } });
    const without = await buildBundles(join(dir, 'without'), [entry]);
    const saved = process.env.AI_SYSTEM_PROMPT;
    delete process.env.AI_SYSTEM_PROMPT;
    try {
      const built = await import(pathToFileURL(withPrompt.get(entry)!.file).href);
      expect(built.defaultSystemPrompt()).toBe(longPrompt);
      const plain = await import(pathToFileURL(without.get(entry)!.file).href);
      expect(plain.defaultSystemPrompt()).toBeUndefined();
      // The local stack's variable (the integration guide's AI_SYSTEM_PROMPT) comes first.
      process.env.AI_SYSTEM_PROMPT = 'From the environment';
      expect(built.defaultSystemPrompt()).toBe('From the environment');
    } finally {
      if (saved === undefined) delete process.env.AI_SYSTEM_PROMPT;
      else process.env.AI_SYSTEM_PROMPT = saved;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
