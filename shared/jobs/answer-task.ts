import { defaultSystemPrompt } from '../platform/system-prompt.js';
import { dynamoSessionRepository } from '../sessions/repository.js';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { dynamoTaskRepository, type TaskItem } from '../tasks/repository.js';
import { answerClaimed, FINISHED, hasTimeToAnswer, LEASE_MS, NOT_ENOUGH_TIME, orgAtCapacity, resultJson, type Attempt, type Outcome } from './answering.js';
import { orgPlaces } from './in-flight.js';
import { claim } from './claims.js';
import type { TaskJob } from './job-schema.js';
import { isFinished, secondsUntilLeaseEnds, TASK } from './work-items.js';

/** Answers one task. */
export async function answerTask(db: Db, job: TaskJob, attempt: Attempt): Promise<Outcome> {
  const key = keys.task(job.org_id, job.session_id, job.ctx_id);
  // A task is claimed only with time to answer it (a claim counts a try).
  if (!hasTimeToAnswer(attempt)) return NOT_ENOUGH_TIME;
  // One of the organization's places in flight, held until the task is settled.
  const places = orgPlaces(db);
  if (!(await places.acquire(job.org_id, attempt.claimer))) return orgAtCapacity();
  try {
    const claimed = await claim<TaskItem>(db, key, TASK.lifecycle, attempt.claimer, LEASE_MS);
    if (!claimed) {
      const item = await dynamoTaskRepository(db).get(job.org_id, job.session_id, job.ctx_id);
      if (!item || isFinished(item.status, TASK.lifecycle)) return FINISHED; // gone, or a duplicate delivery
      return { finished: false, retryAfterSeconds: secondsUntilLeaseEnds(item.lease_until), reason: 'the task is being answered by another worker' };
    }
    const session = await dynamoSessionRepository(db).get(job.org_id, job.session_id);
    // A task of a session being deleted never reaches the model; the delete's sweep removes it.
    if (!session || session.deleting_at) return FINISHED;
    return await answerClaimed(
      db,
      {
        kind: TASK,
        key,
        claimed,
        orgId: job.org_id,
        sessionId: job.session_id,
        itemId: job.ctx_id,
        systemPrompt: claimed.system_prompt ?? session?.system_prompt ?? defaultSystemPrompt(),
        message: claimed.task,
        history: claimed.request_history,
        historyBefore: job.ctx_id,
        doneFields: (result) => ({ result: result.content, error: null, ...resultJson(result.content) }),
      },
      attempt,
    );
  } finally {
    await places.release(job.org_id, attempt.claimer);
  }
}
