/**
 * Runs `read` with the given environment variables set (undefined removes one), then puts the
 * environment back as it was: once `read` returns, or once the promise it returns settles.
 * @example const settings = withEnv({ CLERK_JWT_KEY: pem }, clerkSettingsFromEnv);
 */
export function withEnv<T>(variables: Record<string, string | undefined>, read: () => T): T {
  const saved = { ...process.env };
  const restore = () => {
    process.env = saved;
  };
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let result: T;
  try {
    result = read();
  } catch (error) {
    restore();
    throw error;
  }
  if (result instanceof Promise) return result.finally(restore) as T;
  restore();
  return result;
}
