import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project root, where the route and worker tables' `entry` files and the lock file are found.
 * For build and local tools only (infra/, bin/, test/): a deployed bundle has no project around it.
 */
export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The front's check of every request: a CloudFront Function in AWS (infra/front.ts), run by the local gateway too. */
export const FRONT_CHECK_FILE = join(PROJECT_ROOT, 'infra', 'front-check.js');
