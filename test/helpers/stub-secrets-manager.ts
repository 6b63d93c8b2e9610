/**
 * A stub of AWS Secrets Manager's `GetSecretValue` on 127.0.0.1, speaking the AWS JSON 1.1 protocol
 * the real SDK uses (POST /, `x-amz-target: secretsmanager.GetSecretValue`, body `{"SecretId": ...}`).
 * Point the SDK at it with `AWS_ENDPOINT_URL_SECRETS_MANAGER=<url>` (and any credentials: nothing is
 * signed-checked). It records every request, so tests can count what a cache saved.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the stub received. */
export interface SecretsRequest {
  /** The `x-amz-target` header, e.g. `secretsmanager.GetSecretValue`. */
  target: string | undefined;
  /** The `SecretId` asked for, if the body had one. */
  secretId: string | undefined;
  receivedAt: number;
}

export interface StubSecretsManager {
  /** The endpoint, for `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  url: string;
  /** Every request received, in order. */
  requests: SecretsRequest[];
  /** The `GetSecretValue` requests made for one secret name. */
  requestsFor(name: string): SecretsRequest[];
  /** Creates or replaces (rotates) a secret's string value. */
  put(name: string, secretString: string): void;
  /** Deletes a secret: it is then answered ResourceNotFoundException. */
  remove(name: string): void;
  /** Answers every read of this name with 400 AccessDeniedException (as for a missing IAM grant). */
  deny(name: string): void;
  close(): Promise<void>;
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const JSON_11 = 'application/x-amz-json-1.1';

export async function startStubSecretsManager(): Promise<StubSecretsManager> {
  const secrets = new Map<string, { value: string; versionId: string; suffix: string }>();
  const requests: SecretsRequest[] = [];
  const denied = new Set<string>();

  function send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': JSON_11, 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = req.headers['x-amz-target'] as string | undefined;
    let body: { SecretId?: unknown } = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      // answered below
    }
    const secretId = typeof body.SecretId === 'string' ? body.SecretId : undefined;
    requests.push({ target, secretId, receivedAt: Date.now() });

    if (req.method !== 'POST' || target !== 'secretsmanager.GetSecretValue') {
      return send(res, 400, { __type: 'UnknownOperationException', message: `Unsupported operation ${target ?? '(none)'}` });
    }
    if (!secretId) {
      return send(res, 400, { __type: 'InvalidParameterException', message: 'You must provide a SecretId.' });
    }
    if (denied.has(secretId)) {
      return send(res, 400, {
        __type: 'AccessDeniedException',
        message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/worker is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId}`,
      });
    }
    const secret = secrets.get(secretId);
    if (!secret) {
      return send(res, 400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
    }
    send(res, 200, {
      ARN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${secretId}-${secret.suffix}`,
      Name: secretId,
      SecretString: secret.value,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: Math.floor(Date.now() / 1000),
    });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return void res.destroy();
      send(res, 500, { __type: 'InternalServiceError', message: `Stub failure: ${String(error)}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    requestsFor: (name) => requests.filter((request) => request.secretId === name),
    put: (name, value) => {
      const suffix = secrets.get(name)?.suffix ?? createHash('sha256').update(name).digest('hex').slice(0, 6);
      secrets.set(name, { value, versionId: randomUUID(), suffix });
    },
    remove: (name) => void secrets.delete(name),
    deny: (name) => void denied.add(name),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
