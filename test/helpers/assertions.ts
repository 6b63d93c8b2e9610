import { AppError } from '../../shared/platform/errors.js';

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejectionOf<T = any>(promise: Promise<unknown>): Promise<T> {
  try {
    await promise;
  } catch (error) {
    return error as T;
  }
  throw new Error('expected a rejection');
}

/** The AppError a domain call fails with; fails the test if it resolves or throws anything else. */
export async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await rejectionOf(promise);
  if (error instanceof AppError) return error;
  throw error;
}
