import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root, where handler entries and the lock file are found. */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
