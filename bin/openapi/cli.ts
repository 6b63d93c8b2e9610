/**
 * `npm run openapi`: writes docs/openapi.json from the route table and the zod schemas, and the
 * client library's types (client/src/types.ts) from that document.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../shared/contract/project.js';
import { clientTypes } from './client-types.js';
import { openApiDocument } from './document.js';

const file = join(PROJECT_ROOT, 'docs', 'openapi.json');
const document = openApiDocument();
writeFileSync(file, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${file}`);
const types = join(PROJECT_ROOT, 'client', 'src', 'types.ts');
writeFileSync(types, clientTypes(JSON.parse(JSON.stringify(document))));
console.log(`wrote ${types}`);
