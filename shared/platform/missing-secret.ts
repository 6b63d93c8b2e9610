/**
 * Whether reading a secret failed because it is not there: Powertools wraps the SDK's error, so the
 * cause is on it or on its cause. A secret scheduled for deletion (`npm run org -- remove`) is
 * answered InvalidRequestException: it is gone too.
 */
export function isMissingSecret(error: unknown): boolean {
  for (let current = error as { name?: string; message?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current.name === 'ResourceNotFoundException') return true;
    if (current.name === 'InvalidRequestException' && /deleted|deletion/i.test(current.message ?? '')) return true;
  }
  return false;
}
