/**
 * `npm run org -- set|show|remove <org_id> --stage <stage> [--key-stdin] [--base-url URL] [--model NAME] [--force]`:
 * manages an organization's settings secret in AWS Secrets Manager (the work is in ./secrets.ts).
 * The key is read from standard input only, never from the command line, and never printed.
 * Exit status: 0 done, 2 invalid command or input, 1 Secrets Manager refused or failed.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { checkWebhookUrl, parseLimit, removeOrgPolicy, setOrgPolicy, type PolicyResult } from './org-policy.js';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../../shared/contract/rules.js';
import {
  checkBaseUrl,
  checkModel,
  checkTarget,
  DEFAULT_RECOVERY_WINDOW_DAYS,
  maskKey,
  OrgAdminError,
  removeOrgSettings,
  setOrgSettings,
  showOrgSettings,
  type RemoveResult,
  type SetResult,
  type ShowResult,
} from './secrets.js';

const USAGE = `Usage: npm run org -- <command> <org_id> --stage <stage> [options]

Manages an organization's OpenAI settings: the Secrets Manager secret ai-chat/<stage>/orgs/<org_id>,
JSON {"api_key", "base_url"?, "model"?}, that the workers of that stage read.

Commands:
  set <org_id>      Create the secret, or change it; what is not given is kept.
                      --key-stdin       read the API key from standard input (it is never taken from
                                        the command line); without it the stored key is kept, and a
                                        new organization needs one
                      --base-url URL    an OpenAI-compatible base URL (http or https); '' removes it
                      --model NAME      the organization's default model; '' removes it
                      --webhook-url URL where finished answers' and tasks' events are POSTed (https,
                                        public); '' removes it. A new webhook gets a signing secret,
                                        printed once, unless --webhook-secret-stdin gives one (whsec_...)
                      --monthly-token-budget N   tokens per UTC month, then 429 budget_exhausted; '' removes it
                      --retention-days N         days messages and tasks (and idle sessions) are kept; '' removes it
                      --table NAME      the stage's table (found by name, ai-chat-<stage>-..., when not given)
  show <org_id>     Print the settings, the key masked (sk-…abcd).
  remove <org_id>   Delete the secret, recoverable for ${DEFAULT_RECOVERY_WINDOW_DAYS} days (\`set\` restores it);
                      --force           delete it at once, without recovery

Options:
  --stage NAME      the deployed stage, e.g. prod (required)
  -h, --help        print this text

Region and credentials come from the usual AWS environment (AWS_PROFILE, AWS_REGION, ...).
Exit status: 0 done, 2 invalid command or input, 1 Secrets Manager refused or failed.

Examples:
  printf %s "$KEY" | npm run org -- set org_medical_clinic --stage prod --key-stdin --model gpt-4o-mini
  npm run org -- set org_medical_clinic --stage prod --key-stdin       (paste the key, then Enter)
  npm run org -- set org_medical_clinic --stage prod --base-url ''
  npm run org -- show org_medical_clinic --stage prod
  npm run org -- remove org_medical_clinic --stage prod
`;

const COMMAND_OPTIONS: Record<string, string[]> = {
  set: ['key-stdin', 'base-url', 'model', 'webhook-url', 'webhook-secret-stdin', 'monthly-token-budget', 'retention-days', 'table'],
  show: [],
  remove: ['force', 'table'],
};

/** The command line is wrong (exit 2): the sentence, then the usage text or where to find it. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly withUsage = false,
  ) {
    super(message);
  }
}

/** The key read so far, so that no message can ever print it. */
let keyRead: string | undefined;

async function main(argv: string[]): Promise<number> {
  if (argv.some((arg) => /^(--?(api[-_]?)?key|-k)(=|$)/i.test(arg))) {
    throw new UsageError(
      'The key is never taken from the command line (it would stay in the shell history and show in ps): give it on standard input with --key-stdin.',
    );
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        stage: { type: 'string' },
        'key-stdin': { type: 'boolean' },
        'base-url': { type: 'string' },
        model: { type: 'string' },
        'webhook-url': { type: 'string' },
        'webhook-secret-stdin': { type: 'boolean' },
        'monthly-token-budget': { type: 'string' },
        'retention-days': { type: 'string' },
        table: { type: 'string' },
        force: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError(String((error as Error).message).split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '.'));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [command, orgId, ...extra] = positionals;
  if (command === undefined) throw new UsageError('No command: give set, show or remove.', true);
  const allowed = Object.hasOwn(COMMAND_OPTIONS, command) ? COMMAND_OPTIONS[command] : undefined;
  if (!allowed) throw new UsageError(`Unknown command "${command.slice(0, 20)}": give set, show or remove.`, true);
  if (orgId === undefined) throw new UsageError(`${command} needs an organization id, e.g. npm run org -- ${command} org_medical_clinic --stage prod`);
  if (extra.length) throw new UsageError('Too many arguments: give one command and one organization id.');
  for (const option of ['key-stdin', 'base-url', 'model', 'force', 'webhook-url', 'webhook-secret-stdin', 'monthly-token-budget', 'retention-days', 'table']) {
    if (values[option as keyof typeof values] !== undefined && !allowed.includes(option)) {
      throw new UsageError(`--${option} is not an option of ${command}.`);
    }
  }
  if (values.stage === undefined) throw new UsageError('--stage is required, e.g. --stage prod.');
  const target = { orgId, stage: values.stage };
  checkTarget(target);

  const client = new SecretsManagerClient({});
  const dynamo = new DynamoDBClient({});
  try {
    if (command === 'show') {
      printShown(await showOrgSettings(client, target));
    } else if (command === 'remove') {
      const before = await showOrgSettings(client, target);
      printRemoved(await removeOrgSettings(client, { ...target, force: values.force === true }));
      if (before.webhookUrl || before.monthlyTokenBudget || before.retentionDays || values.table) {
        await removeOrgPolicy({ secrets: client, dynamo }, { ...target, table: values.table });
        console.log('Its webhook secret and its policy (budget, retention, webhook) in the table were removed too.');
      }
    } else {
      // Everything checkable is checked before waiting for a key.
      if (values['base-url']) checkBaseUrl(values['base-url']);
      if (values.model) checkModel(values.model);
      if (values['webhook-url']) checkWebhookUrl(values['webhook-url']);
      const budget = values['monthly-token-budget'] === undefined ? undefined : parseLimit(values['monthly-token-budget'], 'The monthly token budget');
      const retention = values['retention-days'] === undefined ? undefined : parseLimit(values['retention-days'], 'The retention');
      const settingsGiven = values['key-stdin'] || values['base-url'] !== undefined || values.model !== undefined;
      const policyGiven = values['webhook-url'] !== undefined || values['webhook-secret-stdin'] || budget !== undefined || retention !== undefined;
      if (!settingsGiven && !policyGiven) {
        throw new UsageError('Nothing to set: give --key-stdin (the key on standard input), --base-url, --model, --webhook-url, --monthly-token-budget or --retention-days.');
      }
      if (values['key-stdin'] && values['webhook-secret-stdin']) {
        throw new UsageError('Standard input gives one secret at a time: set the key and the webhook secret with two commands.');
      }
      if (settingsGiven) {
        const apiKey = values['key-stdin'] ? await readKey(orgId) : undefined;
        printSet(await setOrgSettings(client, { ...target, apiKey, baseUrl: values['base-url'], model: values.model }));
      }
      if (policyGiven) {
        const webhookSecret = values['webhook-secret-stdin'] ? await readKey(orgId, 'webhook secret') : undefined;
        printPolicy(
          await setOrgPolicy({ secrets: client, dynamo }, { ...target, webhookUrl: values['webhook-url'], webhookSecret, monthlyTokenBudget: budget, retentionDays: retention, table: values.table }),
        );
      }
    }
  } finally {
    client.destroy();
    dynamo.destroy();
  }
  return 0;
}

function printPolicy(result: PolicyResult): void {
  console.log(
    [
      `Set the webhook, budget and retention of organization ${result.orgId} on stage ${result.stage} (its settings secret, its webhook secret, and its policy in ${result.table}).`,
      table([
        ['webhook', result.webhookUrl ?? '(none)'],
        ['signing', result.webhookSecretMasked],
        ['budget', result.monthlyTokenBudget ? `${result.monthlyTokenBudget.toLocaleString('en-US')} tokens a month` : '(none)'],
        ['retention', result.retentionDays ? `${result.retentionDays} days` : '(none: kept until deleted)'],
      ]),
      ...(result.generatedWebhookSecret
        ? [`The webhook's signing secret, shown this once (give it to the receiver to verify the webhook-signature header):`, `  ${result.generatedWebhookSecret}`]
        : []),
      'The API applies a change within 30 seconds; the webhook delivery within 5 minutes.',
    ].join('\n'),
  );
}

/** A secret from standard input: the whole of a pipe, or one hidden line typed or pasted at a terminal. */
async function readKey(orgId: string, what = 'API key'): Promise<string> {
  const raw = process.stdin.isTTY ? await readHiddenLine(`${what} of ${orgId} (input hidden, then Enter): `) : await readAll();
  keyRead = raw.trim();
  return keyRead;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > 65_536) throw new UsageError('Standard input is longer than 64 KB: that is not a key.');
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readHiddenLine(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new UsageError('Cancelled: nothing was changed.'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else if (char >= ' ') value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.setEncoding('utf8');
    stdin.on('data', onData);
    stdin.resume();
  });
}

const date = (value: Date | undefined) => (value ? value.toISOString() : undefined);
const table = (rows: [string, string | undefined][]) =>
  rows
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([name, value]) => `  ${name.padEnd(13)} ${value}`)
    .join('\n');

function printSet(result: SetResult): void {
  const where = `the settings secret of organization ${result.orgId} on stage ${result.stage} (${result.secretName})`;
  const lines = [
    result.action === 'created'
      ? `Created ${where}.`
      : result.action === 'updated'
        ? `${result.restored ? 'Restored (it was scheduled for deletion) and updated' : 'Updated'} ${where}.`
        : `${result.restored ? 'Restored (it was scheduled for deletion)' : 'Nothing to change in'} ${where}${result.restored ? '; its settings were already as given.' : ': it already holds these settings.'}`,
    table([
      ['key', `${result.keyMasked} (${result.keyChanged ? 'new' : 'kept'})`],
      ['base URL', result.baseUrl ?? '(none: OpenAI itself)'],
      ['model', result.model ?? `(none: ${DEFAULT_MODEL} unless a request names one)`],
    ]),
  ];
  if (result.action === 'updated') {
    lines.push(
      'Workers use the new settings within 5 minutes (they cache a secret for ORG_SECRET_MAX_AGE_SECONDS, 300 by default); a key the provider refuses is read afresh at once.',
    );
  }
  console.log(lines.join('\n'));
}

function printShown(result: ShowResult): void {
  const rows: [string, string | undefined][] = [
    ['organization', result.orgId],
    ['stage', result.stage],
    ['secret', result.secretName],
  ];
  if (!result.deletionDate) {
    rows.push(
      ['key', result.keyMasked ?? '(none)'],
      ['base URL', result.baseUrl ?? '(none: OpenAI itself)'],
      ['model', result.model ?? `(none: ${DEFAULT_MODEL} unless a request names one)`],
    );
    rows.push(
      ['webhook', result.webhookUrl ?? '(none)'],
      ['signing', result.webhookSecretMasked],
      ['budget', result.monthlyTokenBudget ? `${result.monthlyTokenBudget.toLocaleString('en-US')} tokens a month` : '(none)'],
      ['retention', result.retentionDays ? `${result.retentionDays} days` : '(none: kept until deleted)'],
    );
    if (result.otherFields.length) rows.push(['other fields', result.otherFields.join(', ')]);
  }
  rows.push(['last changed', date(result.lastChangedDate)], ['deletion on', date(result.deletionDate)], ['problem', result.problem]);
  console.log(table(rows));
}

function printRemoved(result: RemoveResult): void {
  const what = `the settings secret of organization ${result.orgId} on stage ${result.stage} (${result.secretName})`;
  if (result.action === 'deleted') {
    console.log(`Deleted ${what} at once, without recovery.`);
  } else if (result.action === 'already_scheduled') {
    console.log(`Nothing done: ${what} is already scheduled for deletion on ${date(result.deletionDate)} (--force deletes it now).`);
  } else {
    console.log(
      [
        `Scheduled ${what} for deletion on ${date(result.deletionDate)} (recovery window ${result.recoveryWindowInDays} days).`,
        `Until then \`npm run org -- set ${result.orgId} --stage ${result.stage} ...\` restores it.`,
      ].join('\n'),
    );
  }
  console.log('Workers that cached the key may keep using it for up to 5 minutes (ORG_SECRET_MAX_AGE_SECONDS, 300 by default).');
}

/** A message with the key masked, whatever it is. */
const safe = (message: string) => (keyRead ? message.split(keyRead).join(maskKey(keyRead)) : message);

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(safe(error.message));
    console.error(error.withUsage ? `\n${USAGE}` : 'Run `npm run org -- --help` for the usage.');
    process.exitCode = 2;
  } else if (error instanceof OrgAdminError) {
    console.error(safe(error.message));
    process.exitCode = error.kind === 'invalid_input' ? 2 : 1;
  } else {
    console.error(safe(`Failed: ${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`));
    process.exitCode = 1;
  }
}
