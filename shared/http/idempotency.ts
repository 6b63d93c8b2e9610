import type { Principal } from '../auth/principal.js';
import { abandonIdempotent, beginIdempotent, finishIdempotent } from '../idempotency.js';
import { logger } from '../logger.js';
import type { Db } from '../store/db.js';
import type { ApiResult } from './api-handler.js';

/**
 * Runs a request under its `Idempotency-Key`: the first run's answer is stored and replayed to its
 * retries (marked `idempotent-replayed: true`). A run that fails leaves nothing behind, so its retry runs again.
 */
export async function runIdempotent(
  db: Db,
  principal: Principal,
  key: string,
  request: { method: string; path: string; body: unknown },
  run: () => Promise<ApiResult>,
): Promise<ApiResult> {
  const begun = await beginIdempotent(db, principal, key, request);
  if ('replay' in begun) return { ...begun.replay, headers: { 'idempotent-replayed': 'true' } };
  let result: ApiResult;
  try {
    result = await run();
  } catch (error) {
    await abandonIdempotent(db, begun.started).catch((cleanup: Error) => logger.warn('could not release an idempotency key', { error: cleanup.name }));
    throw error;
  }
  await finishIdempotent(db, begun.started, { status: result.status, body: result.body });
  return result;
}
