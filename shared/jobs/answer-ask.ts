import { dynamoMessageRepository, type MessageItem } from '../messages/repository.js';
import { defaultSystemPrompt } from '../platform/system-prompt.js';
import { dynamoSessionRepository } from '../sessions/repository.js';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { answerClaimed, FINISHED, hasTimeToAnswer, LEASE_MS, NOT_ENOUGH_TIME, settleFailed, type Attempt, type Outcome } from './answering.js';
import { claim } from './claims.js';
import type { AskJob } from './job-schema.js';
import { ANSWER, secondsUntilLeaseEnds } from './work-items.js';

const QUESTION_DELETED = 'The question was deleted before it was answered.';

/**
 * Answers the session's waiting asks in id order, from the oldest, up to and including the job's
 * own: jobs may arrive out of id order, turns may not, and a turn whose own job was lost or
 * dead-lettered is answered by the next job rather than left behind it. So every accepted ask is
 * answered (or fails for its own reason) once, in order, each seeing the answers before it, and
 * gets its own model call.
 */
export async function answerAsk(db: Db, job: AskJob, attempt: Attempt): Promise<Outcome> {
  const sessions = dynamoSessionRepository(db);
  const messages = dynamoMessageRepository(db);
  for (;;) {
    const session = await sessions.get(job.org_id, job.session_id);
    if (!session || session.deleting_at) return FINISHED;
    const next = await messages.oldestWaitingAnswer(job.org_id, job.session_id, session.answered_through);
    // Nothing waits up to the job's own ask: it was answered (or deleted) already.
    if (!next || next.message_id > job.message_id) return FINISHED;
    if (next.status === ANSWER.lifecycle.processing && Number(next.lease_until) > Date.now()) {
      // Another worker is answering the turn before; come back when its claim would have run out.
      return { finished: false, retryAfterSeconds: secondsUntilLeaseEnds(next.lease_until), reason: 'an earlier turn is being answered' };
    }
    // A turn is claimed only with time to answer it (a claim counts a try): else come back.
    if (!hasTimeToAnswer(attempt)) return NOT_ENOUGH_TIME;
    const key = keys.message(job.org_id, job.session_id, next.message_id);
    const claimed = await claim<MessageItem>(db, key, ANSWER.lifecycle, attempt.claimer, LEASE_MS);
    if (!claimed) return { finished: false, retryAfterSeconds: 1, reason: 'the turn was claimed by another worker' };

    const question = claimed.reply_to ? await messages.get(job.org_id, job.session_id, claimed.reply_to) : undefined;
    const outcome = question
      ? await answerClaimed(
          db,
          {
            kind: ANSWER,
            key,
            claimed,
            orgId: job.org_id,
            sessionId: job.session_id,
            itemId: claimed.message_id,
            systemPrompt: session.system_prompt ?? defaultSystemPrompt(),
            message: question.content,
            history: claimed.request_history,
            historyBefore: question.message_id,
            doneFields: (result) => ({ content: result.content }),
          },
          attempt,
        )
      : await settleFailed(db, { kind: ANSWER, key, claimed }, attempt, ANSWER.failedFields(QUESTION_DELETED));
    if (!outcome.finished) return outcome;
    await sessions.advanceAnsweredThrough(job.org_id, job.session_id, claimed.message_id);
    if (claimed.message_id === job.message_id) return FINISHED;
  }
}
