/**
 * Errors the domain raises. They carry a machine code and a sentence a person can act on;
 * the HTTP layer (shared/api/responses.ts) maps each kind to a status. The domain never sees HTTP.
 */
export type ErrorKind =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'idempotency_mismatch'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable';

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    /** Extra facts for the answer (e.g. retry_after_seconds); never secrets. */
    readonly details: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/** AWS errors that mean "busy, try again" (throttling, a passing 5xx). */
const BUSY_AWS_ERRORS = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'ServiceUnavailable', 'InternalServerError']);

/** Whether an error is an AWS service being busy for a moment, rather than a request it refuses. */
export const isBusyError = (error: unknown): boolean => BUSY_AWS_ERRORS.has((error as Error | undefined)?.name ?? '');

/** The object does not exist, or belongs to another tenant or user: the two are never told apart. */
export const notFound = (what: string): AppError => new AppError('not_found', 'not_found', `${what} not found.`);

/** For a `.catch`: undefined for a not-found AppError, the same rejection for anything else. */
export const undefinedIfNotFound = (error: unknown): undefined => {
  if (error instanceof AppError && error.kind === 'not_found') return undefined;
  throw error;
};

export const invalid = (message: string, code = 'invalid_request'): AppError => new AppError('invalid', code, message);

export const conflict = (message: string, code = 'conflict'): AppError => new AppError('conflict', code, message);

export const forbidden = (message: string, code = 'forbidden'): AppError => new AppError('forbidden', code, message);
