import { build } from 'esbuild';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ORG_ID_PATTERN } from '../../../shared/auth/principal.js';
import { PROJECT_ROOT } from '../../../shared/contract/project.js';
import { mintToken, type TestKeys } from '../tokens.js';

const HERE = join(PROJECT_ROOT, 'bin', 'local', 'playground');
const USER_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

/**
 * The playground's few routes, served by the local gateway only (never deployed): the page, its
 * style and its script (app.ts with the client library, bundled by esbuild on first request), its
 * configuration, and, while the server signs with its development key pair, tokens for any
 * organization, user and role (as `npm run token` makes them).
 * @returns a request handler that answers true when the request was the playground's
 */
export function playground(options: { keys?: TestKeys }) {
  let script: Promise<string> | undefined;
  const bundle = () =>
    (script ??= build({
      entryPoints: [join(HERE, 'app.ts')],
      absWorkingDir: PROJECT_ROOT,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    }).then((result) => result.outputFiles[0]!.text));

  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      send(res, 200, 'text/html; charset=utf-8', await readFile(join(HERE, 'index.html'), 'utf8'));
    } else if (req.method === 'GET' && path === '/playground/styles.css') {
      send(res, 200, 'text/css; charset=utf-8', await readFile(join(HERE, 'styles.css'), 'utf8'));
    } else if (req.method === 'GET' && path === '/playground/app.js') {
      send(res, 200, 'text/javascript; charset=utf-8', await bundle());
    } else if (req.method === 'GET' && path === '/playground/config') {
      send(res, 200, 'application/json', JSON.stringify({ devTokens: Boolean(options.keys) }));
    } else if (req.method === 'POST' && path === '/playground/token') {
      // Tokens only for pages of this machine: a page elsewhere rebinding a name to 127.0.0.1 gets none.
      if (!/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(req.headers.host ?? '')) {
        send(res, 403, 'application/json', JSON.stringify({ error: 'Development tokens are given to pages opened at 127.0.0.1 or localhost only.', code: 'forbidden' }));
        return true;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let fields: { org?: unknown; user?: unknown; role?: unknown } = {};
      try {
        fields = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        // answered below
      }
      if (!options.keys) {
        send(res, 404, 'application/json', JSON.stringify({ error: 'This server verifies real Clerk tokens: paste one instead.', code: 'not_found' }));
      } else if (typeof fields.org !== 'string' || !ORG_ID_PATTERN.test(fields.org) || typeof fields.user !== 'string' || !USER_PATTERN.test(fields.user)) {
        send(res, 400, 'application/json', JSON.stringify({ error: 'Give an organization id (org_ and letters or digits) and a user id (letters, digits, _).', code: 'invalid_request' }));
      } else {
        const token = await mintToken(options.keys, { org: fields.org, user: fields.user, role: fields.role === 'admin' ? 'admin' : 'member', expiresIn: 12 * 3600 });
        send(res, 200, 'application/json', JSON.stringify({ token }));
      }
    } else {
      return false;
    }
    return true;
  };
}
