/**
 * A stub of AWS STS on 127.0.0.1 for AssumeRole with session tags, speaking the AWS Query protocol
 * the real SDK uses (a form-encoded POST, an XML answer). Each call hands out new credentials and
 * remembers the session tags they carry, so that a stub service (the stub Secrets Manager) can
 * check attribute-based access as IAM would: `tagsOf(accessKeyId)`. It records every call, so tests
 * and the benchmark can count what a credentials cache saved.
 *
 * Point the SDK at it with `AWS_ENDPOINT_URL_STS=<url>` (or the client's `endpoint`).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AssumeRoleCall {
  roleArn: string;
  sessionName: string;
  tags: Record<string, string>;
  receivedAt: number;
}

export interface StubSts {
  url: string;
  /** Every AssumeRole received, in order. */
  calls: AssumeRoleCall[];
  /** The session tags of credentials this stub handed out; undefined for any other key. */
  tagsOf(accessKeyId: string): Record<string, string> | undefined;
  /** Adds a delay to every answer (a network round trip), for the benchmark. */
  latency(ms: number): void;
  close(): Promise<void>;
}

const ACCOUNT = '123456789012';
const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export async function startStubSts(): Promise<StubSts> {
  const calls: AssumeRoleCall[] = [];
  const issued = new Map<string, Record<string, string>>();
  let latencyMs = 0;

  function fail(res: ServerResponse, status: number, code: string, message: string) {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(
      `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code>` +
        `<Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
    );
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    if (form.get('Action') !== 'AssumeRole') return fail(res, 400, 'InvalidAction', `Could not find operation ${form.get('Action')}`);
    const roleArn = form.get('RoleArn') ?? '';
    const sessionName = form.get('RoleSessionName') ?? '';
    if (!/^arn:aws[\w-]*:iam::\d{12}:role\/.+$/.test(roleArn)) return fail(res, 400, 'ValidationError', 'RoleArn is not a role ARN');
    if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) return fail(res, 400, 'ValidationError', 'RoleSessionName is not valid');
    const tags: Record<string, string> = {};
    for (let index = 1; form.has(`Tags.member.${index}.Key`); index++) tags[form.get(`Tags.member.${index}.Key`)!] = form.get(`Tags.member.${index}.Value`) ?? '';
    calls.push({ roleArn, sessionName, tags, receivedAt: Date.now() });
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    issued.set(accessKeyId, tags);
    const seconds = Number(form.get('DurationSeconds') ?? 3600);
    const expiration = new Date(Date.now() + seconds * 1000).toISOString();
    const role = roleArn.split('/').pop();
    res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() });
    res.end(
      `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>` +
        `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${randomBytes(20).toString('hex')}</SecretAccessKey>` +
        `<SessionToken>${randomBytes(32).toString('base64')}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<AssumedRoleUser><AssumedRoleId>AROA${ACCOUNT}:${xml(sessionName)}</AssumedRoleId>` +
        `<Arn>arn:aws:sts::${ACCOUNT}:assumed-role/${xml(role ?? '')}/${xml(sessionName)}</Arn></AssumedRoleUser>` +
        `<PackedPolicySize>${Object.keys(tags).length}</PackedPolicySize></AssumeRoleResult>` +
        `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      fail(res, 500, 'InternalFailure', `Stub failure: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    tagsOf: (accessKeyId) => issued.get(accessKeyId),
    latency: (ms) => void (latencyMs = ms),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
