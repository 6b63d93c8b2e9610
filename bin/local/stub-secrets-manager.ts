/**
 * A stub of AWS Secrets Manager on 127.0.0.1, speaking the AWS JSON 1.1 protocol the real SDK uses
 * (POST /, `x-amz-target: secretsmanager.<Operation>`, a JSON body, errors as `{"__type", "message"}`).
 * It answers GetSecretValue, CreateSecret, PutSecretValue, DescribeSecret, DeleteSecret and
 * RestoreSecret, with the errors and the deletion states of the real service:
 *
 * - DeleteSecret with a recovery window (7 to 30 days, default 30) only schedules the deletion: the
 *   secret is then still described (with a `DeletedDate`) and can be restored, but reading or
 *   changing its value, or creating a secret of the same name, is refused with
 *   InvalidRequestException, as AWS does.
 * - DeleteSecret with `ForceDeleteWithoutRecovery` (or a scheduled deletion that has come due)
 *   removes it: every operation on the name then answers ResourceNotFoundException.
 *
 * It also answers as the AWS Parameters and Secrets Lambda extension does (`GET
 * /secretsmanager/get?secretId=`): point `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` at its port.
 *
 * Point the SDK at it with `AWS_ENDPOINT_URL_SECRETS_MANAGER=<url>` (or the client's `endpoint`)
 * and any credentials: signatures are not checked. With `abac`, GetSecretValue is allowed as the
 * stage's tenant role allows it: only to credentials whose session tag `org` (from the stub STS)
 * equals the secret's tag `org`; anything else, the workers' own credentials included, is refused
 * AccessDeniedException. It records every request (and the access key that signed it), so tests can
 * count what a cache saved.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the stub received. */
export interface SecretsRequest {
  /** The `x-amz-target` header, e.g. `secretsmanager.GetSecretValue`. */
  target: string | undefined;
  /** The secret asked for: the body's `SecretId`, or its `Name` (CreateSecret), if it had one. */
  secretId: string | undefined;
  /** The access key id the request was signed with. */
  accessKeyId: string | undefined;
  receivedAt: number;
}

/** What the stub holds for one secret (a copy: changing it changes nothing in the stub). */
export interface StubSecret {
  name: string;
  arn: string;
  value: string;
  versionId: string;
  description?: string;
  tags: { Key: string; Value: string }[];
  createdDate: Date;
  lastChangedDate: Date;
  /** When a scheduled deletion comes due; absent unless DeleteSecret scheduled one. */
  deletedDate?: Date;
}

export interface StubSecretsManager {
  /** The endpoint, for `AWS_ENDPOINT_URL_SECRETS_MANAGER`. */
  url: string;
  /** Every request received, in order. */
  requests: SecretsRequest[];
  /** The requests made for one secret name (every operation). */
  requestsFor(name: string): SecretsRequest[];
  /** Creates or replaces (rotates) a secret's string value, with these tags when given; a scheduled deletion is cancelled. */
  put(name: string, secretString: string, tags?: Record<string, string>): void;
  /** Deletes a secret at once: it is then answered ResourceNotFoundException. */
  remove(name: string): void;
  /** Answers every operation on this name with 400 AccessDeniedException (as for a missing IAM grant). */
  deny(name: string): void;
  /** What the stub holds for a name, or undefined. */
  get(name: string): StubSecret | undefined;
  /** Adds a delay to every answer (a network round trip), for the benchmark. */
  latency(ms: number): void;
  close(): Promise<void>;
}

export interface StubSecretsManagerOptions {
  /** Checks GetSecretValue as the tenant role's policy does: the caller's session tag `org` must be the secret's tag `org`. */
  abac?: { tagsOf(accessKeyId: string): Record<string, string> | undefined };
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const JSON_11 = 'application/x-amz-json-1.1';
const DAY_MS = 24 * 60 * 60 * 1000;

interface Stored {
  value: string;
  versionId: string;
  suffix: string;
  description?: string;
  tags: { Key: string; Value: string }[];
  createdDate: number;
  lastChangedDate: number;
  deletedDate?: number;
}

/** A stub failure answered as the real service's error. */
class Refusal {
  constructor(
    readonly type: string,
    readonly message: string,
    readonly status = 400,
  ) {}
}

const notFound = () => new Refusal('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
const invalidParameter = (message: string) => new Refusal('InvalidParameterException', message);
/** AWS's answer for anything but Describe, Restore and a forced Delete on a secret scheduled for deletion. */
const scheduledForDeletion = () =>
  new Refusal('InvalidRequestException', "You can't perform this operation on the secret because it was marked for deletion.");

const epochSeconds = (ms: number) => ms / 1000;

export async function startStubSecretsManager(options: StubSecretsManagerOptions = {}): Promise<StubSecretsManager> {
  const secrets = new Map<string, Stored>();
  const requests: SecretsRequest[] = [];
  const denied = new Set<string>();
  let latencyMs = 0;

  const suffixFor = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 6);
  const arnOf = (name: string, secret: Stored) => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${secret.suffix}`;

  /** A secret whose scheduled deletion has come due is gone, as in AWS. */
  function lookup(name: string): Stored | undefined {
    const secret = secrets.get(name);
    if (secret?.deletedDate !== undefined && secret.deletedDate <= Date.now()) {
      secrets.delete(name);
      return undefined;
    }
    return secret;
  }

  /** The secret, usable: refused if missing or scheduled for deletion. */
  function live(name: string): Stored {
    const secret = lookup(name);
    if (!secret) throw notFound();
    if (secret.deletedDate !== undefined) throw scheduledForDeletion();
    return secret;
  }

  function secretString(body: Record<string, unknown>): string {
    if (body.SecretBinary !== undefined) throw invalidParameter('This stub keeps SecretString values only.');
    if (typeof body.SecretString !== 'string') throw invalidParameter('You must provide either SecretString or SecretBinary.');
    if (Buffer.byteLength(body.SecretString, 'utf8') > 65_536) throw invalidParameter('SecretString is longer than 65536 bytes.');
    return body.SecretString;
  }

  const operations: Record<string, (body: Record<string, unknown>, name: string) => unknown> = {
    GetSecretValue(_body, name) {
      const secret = live(name);
      return {
        ARN: arnOf(name, secret),
        Name: name,
        SecretString: secret.value,
        VersionId: secret.versionId,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: epochSeconds(secret.lastChangedDate),
      };
    },

    CreateSecret(body, name) {
      const existing = lookup(name);
      if (existing?.deletedDate !== undefined) {
        throw new Refusal('InvalidRequestException', "You can't create this secret because a secret with this name is already scheduled for deletion.");
      }
      if (existing) throw new Refusal('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
      const tags = body.Tags === undefined ? [] : body.Tags;
      if (!Array.isArray(tags) || !tags.every((tag) => typeof tag?.Key === 'string' && typeof tag?.Value === 'string')) {
        throw invalidParameter('Tags must be a list of {Key, Value} strings.');
      }
      const now = Date.now();
      const secret: Stored = {
        value: secretString(body),
        versionId: typeof body.ClientRequestToken === 'string' ? body.ClientRequestToken : randomUUID(),
        suffix: suffixFor(name),
        description: typeof body.Description === 'string' ? body.Description : undefined,
        tags: tags.map((tag: { Key: string; Value: string }) => ({ Key: tag.Key, Value: tag.Value })),
        createdDate: now,
        lastChangedDate: now,
      };
      secrets.set(name, secret);
      return { ARN: arnOf(name, secret), Name: name, VersionId: secret.versionId };
    },

    PutSecretValue(body, name) {
      const secret = live(name);
      secret.value = secretString(body);
      secret.versionId = typeof body.ClientRequestToken === 'string' ? body.ClientRequestToken : randomUUID();
      secret.lastChangedDate = Date.now();
      return { ARN: arnOf(name, secret), Name: name, VersionId: secret.versionId, VersionStages: ['AWSCURRENT'] };
    },

    DescribeSecret(_body, name) {
      const secret = lookup(name);
      if (!secret) throw notFound();
      return {
        ARN: arnOf(name, secret),
        Name: name,
        ...(secret.description !== undefined ? { Description: secret.description } : {}),
        CreatedDate: epochSeconds(secret.createdDate),
        LastChangedDate: epochSeconds(secret.lastChangedDate),
        ...(secret.deletedDate !== undefined ? { DeletedDate: epochSeconds(secret.deletedDate) } : {}),
        Tags: secret.tags.map((tag) => ({ ...tag })),
        VersionIdsToStages: { [secret.versionId]: ['AWSCURRENT'] },
      };
    },

    DeleteSecret(body, name) {
      const force = body.ForceDeleteWithoutRecovery === true;
      if (force && body.RecoveryWindowInDays !== undefined) {
        throw invalidParameter("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
      }
      const days = body.RecoveryWindowInDays ?? 30;
      if (!force && (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30)) {
        throw invalidParameter('The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).');
      }
      const secret = lookup(name);
      if (!secret) throw notFound();
      const arn = arnOf(name, secret);
      const now = Date.now();
      if (force) {
        secrets.delete(name);
        return { ARN: arn, Name: name, DeletionDate: epochSeconds(now) };
      }
      if (secret.deletedDate !== undefined) {
        throw new Refusal('InvalidRequestException', "You can't perform this operation on the secret because it was already scheduled for deletion.");
      }
      secret.deletedDate = now + (days as number) * DAY_MS;
      secret.lastChangedDate = now;
      return { ARN: arn, Name: name, DeletionDate: epochSeconds(secret.deletedDate) };
    },

    TagResource(body, name) {
      const secret = lookup(name);
      if (!secret) throw notFound();
      const tags = body.Tags;
      if (!Array.isArray(tags) || !tags.every((tag) => typeof tag?.Key === 'string' && typeof tag?.Value === 'string')) {
        throw invalidParameter('Tags must be a list of {Key, Value} strings.');
      }
      for (const tag of tags as Array<{ Key: string; Value: string }>) {
        secret.tags = [...secret.tags.filter((existing) => existing.Key !== tag.Key), { Key: tag.Key, Value: tag.Value }];
      }
      return {};
    },

    RestoreSecret(_body, name) {
      const secret = lookup(name);
      if (!secret) throw notFound();
      delete secret.deletedDate;
      secret.lastChangedDate = Date.now();
      return { ARN: arnOf(name, secret), Name: name };
    },
  };

  function send(res: ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'content-type': JSON_11, 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify(body));
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    // The AWS Parameters and Secrets Lambda extension's interface, which the API functions read the
    // Clerk secret key through: GET /secretsmanager/get?secretId=..., answered as GetSecretValue.
    if (req.method === 'GET' && req.url?.startsWith('/secretsmanager/get?')) {
      const secretId = new URL(req.url, 'http://localhost').searchParams.get('secretId') ?? '';
      requests.push({ target: 'extension.get', secretId, accessKeyId: undefined, receivedAt: Date.now() });
      if (!req.headers['x-aws-parameters-secrets-token']) return send(res, 401, { message: 'no X-Aws-Parameters-Secrets-Token' });
      try {
        return send(res, 200, operations.GetSecretValue!({}, secretId));
      } catch (error) {
        if (!(error instanceof Refusal)) throw error;
        return send(res, error.type === 'ResourceNotFoundException' ? 404 : error.status, { __type: error.type, message: error.message });
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = req.headers['x-amz-target'] as string | undefined;
    let body: Record<string, unknown> = {};
    let parsed = true;
    try {
      const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (value && typeof value === 'object' && !Array.isArray(value)) body = value as Record<string, unknown>;
      else parsed = false;
    } catch {
      parsed = false;
    }
    const operationName = target?.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : undefined;
    const nameField = operationName === 'CreateSecret' ? body.Name : body.SecretId;
    const secretId = typeof nameField === 'string' ? nameField : undefined;
    const accessKeyId = /Credential=([A-Z0-9]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
    requests.push({ target, secretId, accessKeyId, receivedAt: Date.now() });
    if (latencyMs) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const operation = operationName !== undefined && Object.hasOwn(operations, operationName) ? operations[operationName] : undefined;
    if (req.method !== 'POST' || !operation) {
      return send(res, 400, { __type: 'UnknownOperationException', message: `Unsupported operation ${target ?? '(none)'}` });
    }
    if (!parsed) return send(res, 400, { __type: 'SerializationException', message: 'The request body is not a JSON object.' });
    if (!secretId) {
      return send(res, 400, {
        __type: 'InvalidParameterException',
        message: operationName === 'CreateSecret' ? 'You must provide a Name.' : 'You must provide a SecretId.',
      });
    }
    if (operationName === 'GetSecretValue' && options.abac) {
      const callerOrg = accessKeyId ? options.abac.tagsOf(accessKeyId)?.org : undefined;
      const secretOrg = lookup(secretId)?.tags.find((tag) => tag.Key === 'org')?.Value;
      if (!callerOrg || callerOrg !== secretOrg) {
        return send(res, 400, {
          __type: 'AccessDeniedException',
          message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/tenant-secrets/${callerOrg ?? 'worker'} is not authorized to perform: secretsmanager:GetSecretValue on resource: ${secretId} because no identity-based policy allows the secretsmanager:GetSecretValue action`,
        });
      }
    }
    if (denied.has(secretId)) {
      return send(res, 400, {
        __type: 'AccessDeniedException',
        message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/worker is not authorized to perform: secretsmanager:${operationName} on resource: ${secretId}`,
      });
    }
    try {
      send(res, 200, operation(body, secretId));
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      send(res, error.status, { __type: error.type, message: error.message });
    }
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
    put: (name, value, tags) => {
      const existing = lookup(name);
      const now = Date.now();
      secrets.set(name, {
        tags: [],
        createdDate: now,
        suffix: suffixFor(name),
        ...existing,
        ...(tags ? { tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
        value,
        versionId: randomUUID(),
        lastChangedDate: now,
        deletedDate: undefined,
      });
    },
    remove: (name) => void secrets.delete(name),
    deny: (name) => void denied.add(name),
    latency: (ms) => void (latencyMs = ms),
    get: (name) => {
      const secret = lookup(name);
      if (!secret) return undefined;
      return {
        name,
        arn: arnOf(name, secret),
        value: secret.value,
        versionId: secret.versionId,
        ...(secret.description !== undefined ? { description: secret.description } : {}),
        tags: secret.tags.map((tag) => ({ ...tag })),
        createdDate: new Date(secret.createdDate),
        lastChangedDate: new Date(secret.lastChangedDate),
        ...(secret.deletedDate !== undefined ? { deletedDate: new Date(secret.deletedDate) } : {}),
      };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
