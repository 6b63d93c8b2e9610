/** `npm run openapi`: writes docs/openapi.json from the route table and the zod schemas. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { openApiDocument } from './document.js';

const file = join(PROJECT_ROOT, 'docs', 'openapi.json');
writeFileSync(file, `${JSON.stringify(openApiDocument(), null, 2)}\n`);
console.log(`wrote ${file}`);
