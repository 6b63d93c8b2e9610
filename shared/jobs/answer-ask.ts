import type { ChatMessage } from '../llm/prompt.js';
import type { MessageItem } from '../messages/repository.js';
import { defaultSystemPrompt } from '../platform/system-prompt.js';
import { dynamoSessionRepository } from '../sessions/repository.js';
import type { Db } from '../store/client.js';
import { keys } from '../store/keys.js';
import { answerClaimed, FINISHED, hasTimeToAnswer, LEASE_MS, NOT_ENOUGH_TIME, orgAtCapacity, settleFailed, type Attempt, type Outcome } from './answering.js';
import { orgPlaces } from './in-flight.js';
import { claim } from './claims.js';
import type { AskJob } from './job-schema.js';
import { sessionTail, type SessionTail } from './session-tail.js';
import { ANSWER, isWaiting, MESSAGE_LIFECYCLE, secondsUntilLeaseEnds } from './work-items.js';

const QUESTION_DELETED = 'The question was deleted before it was answered.';

/** The turns a job may walk past the session's `answered_through` before it moves it forward. */
const ADVANCE_AFTER_MESSAGES = 16;

/**
 * Answers the session's waiting asks in id order, from the oldest, up to and including the job's
 * own: jobs may arrive out of id order, turns may not, and a turn whose own job was lost or
 * dead-lettered is answered by the next job rather than left behind it. So every accepted ask is
 * answered (or fails for its own reason) once, in order, each seeing the answers before it, and
 * gets its own model call. The session, its waiting turns, the question and the history come from
 * one read of the session's newest items (see `sessionTail`).
 */
export async function answerAsk(db: Db, job: AskJob, attempt: Attempt): Promise<Outcome> {
  const sessions = dynamoSessionRepository(db);
  const places = orgPlaces(db);
  for (;;) {
    const tail = sessionTail(db, job.org_id, job.session_id);
    const session = await tail.session();
    if (!session || session.deleting_at) return FINISHED;
    // The waiting answers after the last one answered in order: the oldest of them is next.
    let next: MessageItem | undefined;
    let walked = 0;
    for await (const message of tail.newestFirst()) {
      if (session.answered_through && message.message_id <= session.answered_through) break;
      walked++;
      if (message.role === 'assistant' && isWaiting(message.status, ANSWER.lifecycle)) next = message;
    }
    // Nothing waits up to the job's own ask: it was answered (or deleted) already.
    if (!next || next.message_id > job.message_id) return FINISHED;
    if (next.status === ANSWER.lifecycle.processing && Number(next.lease_until) > Date.now()) {
      // Another worker is answering the turn before; come back when its claim would have run out.
      return { finished: false, retryAfterSeconds: secondsUntilLeaseEnds(next.lease_until), reason: 'an earlier turn is being answered' };
    }
    // A turn is claimed only with time to answer it (a claim counts a try): else come back.
    if (!hasTimeToAnswer(attempt)) return NOT_ENOUGH_TIME;
    // One of the organization's places in flight, held until the turn is settled.
    if (!(await places.acquire(job.org_id, attempt.claimer))) return orgAtCapacity();
    let outcome: Outcome;
    let claimed: MessageItem | undefined;
    try {
      const key = keys.message(job.org_id, job.session_id, next.message_id);
      claimed = await claim<MessageItem>(db, key, ANSWER.lifecycle, attempt.claimer, LEASE_MS);
      if (!claimed) return { finished: false, retryAfterSeconds: 1, reason: 'the turn was claimed by another worker' };
      outcome = await answerTurn(db, job, attempt, { key, claimed, tail, systemPrompt: session.system_prompt });
    } finally {
      await places.release(job.org_id, attempt.claimer);
    }
    if (!outcome.finished) return outcome;
    // The next job finds its turn by walking back to `answered_through`: moved forward now and then
    // (not after every turn), so that the walk stays short and most turns cost no write for it.
    if (walked > ADVANCE_AFTER_MESSAGES) await sessions.advanceAnsweredThrough(job.org_id, job.session_id, claimed.message_id);
    if (claimed.message_id === job.message_id) return FINISHED;
  }
}

/** Answers one claimed turn: its question from the tail, the history too unless the ask gave its own. */
async function answerTurn(
  db: Db,
  job: AskJob,
  attempt: Attempt,
  turn: { key: { pk: string; sk: string }; claimed: MessageItem; tail: SessionTail; systemPrompt: string | null | undefined },
): Promise<Outcome> {
  const { key, claimed, tail } = turn;
  const question = claimed.reply_to ? await find(tail, claimed.reply_to) : undefined;
  return question
    ? answerClaimed(
        db,
        {
          kind: ANSWER,
          key,
          claimed,
          orgId: job.org_id,
          sessionId: job.session_id,
          itemId: claimed.message_id,
          systemPrompt: turn.systemPrompt ?? defaultSystemPrompt(),
          message: question.content,
          history: claimed.request_history ?? ((enough) => finishedBefore(tail, question.message_id, enough)),
          historyBefore: question.message_id,
          doneFields: (result) => ({ content: result.content }),
        },
        attempt,
      )
    : settleFailed(db, { kind: ANSWER, key, claimed, orgId: job.org_id }, attempt, ANSWER.failedFields(QUESTION_DELETED));
}

/** A message of the tail by id (ids descend as the tail goes), or undefined once past it. */
async function find(tail: SessionTail, messageId: string): Promise<MessageItem | undefined> {
  for await (const message of tail.newestFirst()) {
    if (message.message_id === messageId) return message;
    if (message.message_id < messageId) return undefined;
  }
  return undefined;
}

/** The session's finished turns before `beforeId`, newest first, until `enough` says they suffice. */
async function finishedBefore(tail: SessionTail, beforeId: string, enough: (newestFirst: ChatMessage[]) => boolean): Promise<ChatMessage[]> {
  const newestFirst: ChatMessage[] = [];
  for await (const message of tail.newestFirst()) {
    if (message.message_id >= beforeId || message.status !== MESSAGE_LIFECYCLE.done) continue;
    newestFirst.push({ role: message.role as ChatMessage['role'], content: String(message.content ?? '') });
    if (enough(newestFirst)) break;
  }
  return newestFirst;
}
