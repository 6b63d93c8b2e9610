import { dynamoMessageRepository } from '../messages/repository.js';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { dynamoTaskRepository } from '../tasks/repository.js';
import { failUnfinished } from './claims.js';
import { afterSettled } from './finished.js';
import type { Job } from './job-schema.js';
import { ANSWER, gaveUpSentence, isFinished, TASK } from './work-items.js';

/**
 * A job that used up its receives lands in the dead-letter queue; its item is failed here with the
 * last problem seen, unless it finished meanwhile.
 */
export async function failDeadJob(db: Db, job: Job): Promise<void> {
  const [key, kind, item] =
    job.kind === 'ask'
      ? [keys.message(job.org_id, job.session_id, job.message_id), ANSWER, await dynamoMessageRepository(db).get(job.org_id, job.session_id, job.message_id)]
      : [keys.task(job.org_id, job.session_id, job.ctx_id), TASK, await dynamoTaskRepository(db).get(job.org_id, job.session_id, job.ctx_id)];
  if (!item || isFinished(item.status, kind.lifecycle)) return;
  const sentence = gaveUpSentence('several', item.last_error);
  const failed = await failUnfinished(db, key, kind.lifecycle, { ...kind.failedFields(sentence), completed_at: new Date().toISOString() });
  await afterSettled(job.org_id, kind, failed);
}
