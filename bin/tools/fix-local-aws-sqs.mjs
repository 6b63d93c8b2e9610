#!/usr/bin/env node
/**
 * Run by `npm install` (postinstall). local-aws-sqs 2.0.2 counts a ChangeMessageVisibility as a
 * receive (it raises ApproximateReceiveCount), which real SQS does not: locally a message whose
 * visibility a consumer changes to retry it later (the job workers, the webhook delivery) would
 * reach its dead-letter queue after half its tries. This makes the emulator count receives only,
 * as SQS does (test/integration/sqs-emulator.test.ts checks it). Idempotent; fails loudly when the
 * emulator's code is not the one this was written for.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const file = createRequire(import.meta.url).resolve('local-aws-sqs');
const source = readFileSync(file, 'utf8');
const counting = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+1;';
const fixed = 'let n=Number(t.record.attributes.ApproximateReceiveCount)+(i?0:1);';
if (source.includes(fixed)) process.exit(0);
const found = source.split(counting).length - 1;
if (found !== 1) {
  console.error(`fix-local-aws-sqs: expected the receive count update once in ${file}, found it ${found} times; update bin/tools/fix-local-aws-sqs.mjs for this version`);
  process.exit(1);
}
writeFileSync(file, source.replace(counting, fixed));
console.log('fix-local-aws-sqs: ChangeMessageVisibility no longer counts as a receive');
