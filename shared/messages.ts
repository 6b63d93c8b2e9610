import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Principal } from './auth/principal.js';
import { config } from './config.js';
import { AppError, conflict, notFound } from './errors.js';
import { newId } from './ids.js';
import { enqueueJob } from './jobs/queue.js';
import { failIfOverdue, MESSAGE_LIFECYCLE } from './jobs/lifecycle.js';
import { logger } from './logger.js';
import { metrics, MetricUnit } from './observability.js';
import { takeOrgRateToken } from './rate-limit.js';
import type { AskBody, CreateMessageBody, ListMessagesQuery, Message } from './schemas/messages.js';
import { toMessage } from './views.js';
import { loadSession, loadSessionItem } from './sessions.js';
import { batchWrite, deleteRequest, putRequest } from './store/batch.js';
import { isConditionFailure, type Db } from './store/db.js';
import { keys, MESSAGE_SK_PREFIX } from './store/keys.js';
import { queryPage, type Page } from './store/paging.js';

const failedMessageFields = (sentence: string) => ({ content: sentence, error: sentence });

/** Fails a waiting message read past the deadline, then shows it. */
async function view(db: Db, item: Record<string, unknown>): Promise<Message> {
  return toMessage(await failIfOverdue(db, item, MESSAGE_LIFECYCLE, config.jobDeadlineMinutes(), failedMessageFields));
}

/** Adds `delta` to a session's message count; a session deleted meanwhile is left alone. */
async function countMessages(db: Db, orgId: string, sessionId: string, delta: number): Promise<void> {
  try {
    await db.doc.send(
      new UpdateCommand({
        TableName: db.table,
        Key: keys.session(orgId, sessionId),
        UpdateExpression: 'ADD message_count :delta',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(deleting_at)',
        ExpressionAttributeValues: { ':delta': delta },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
}

/** The caller's own open session: asks, tasks and new messages need one. */
export async function loadOpenSession(db: Db, principal: Principal, sessionId: string) {
  const session = await loadSession(db, principal, sessionId, 'write');
  if (session.session_end) {
    throw conflict('This session has ended: it can be read but takes no new asks, tasks or messages. Start a new session.', 'session_ended');
  }
  return session;
}

export interface AskAccepted {
  message_id: string;
  user_message_id: string;
  status: 'PENDING';
}

/**
 * Asks a question: stores the user's message (COMPLETED) and a PENDING assistant message, and
 * queues the job that answers it. If the job cannot be queued, both messages are removed again and
 * the caller gets a retryable 503: nothing is left waiting for an answer that will never come.
 */
export async function askQuestion(db: Db, principal: Principal, sessionId: string, body: AskBody): Promise<AskAccepted> {
  await loadOpenSession(db, principal, sessionId);
  await takeOrgRateToken(db, principal.orgId, config.orgRateLimitPerMinute());
  const now = new Date().toISOString();
  const userMessageId = newId();
  const messageId = newId();
  // The owner on each item lets a poll read the message alone (loadSessionItem).
  const common = { entity: 'message', session_id: sessionId, user_id: principal.userId, created_at: now };
  const userItem = {
    ...keys.message(principal.orgId, sessionId, userMessageId),
    ...common,
    message_id: userMessageId,
    role: 'user',
    content: body.message,
    status: 'COMPLETED',
    completed_at: now,
  };
  const assistantItem = {
    ...keys.message(principal.orgId, sessionId, messageId),
    ...common,
    message_id: messageId,
    role: 'assistant',
    content: '',
    status: 'PENDING',
    reply_to: userMessageId,
    // The request itself stays in the table; the job only names it.
    ...(body.history !== undefined ? { request_history: body.history } : {}),
    ...(body.model !== undefined ? { request_model: body.model } : {}),
  };
  await batchWrite(db, [putRequest(userItem), putRequest(assistantItem)]);
  try {
    await enqueueJob({ kind: 'ask', org_id: principal.orgId, session_id: sessionId, message_id: messageId, enqueued_at: now });
  } catch (error) {
    metrics.addMetric('QueueUnavailable', MetricUnit.Count, 1);
    logger.error('could not queue an ask', { session_id: sessionId, message_id: messageId, error: (error as Error).name });
    await batchWrite(db, [deleteRequest(keys.message(principal.orgId, sessionId, userMessageId)), deleteRequest(keys.message(principal.orgId, sessionId, messageId))]);
    throw new AppError('unavailable', 'queue_unavailable', 'The question could not be queued just now and was not saved. Send it again in a few seconds.', {
      retryAfterSeconds: 5,
    });
  }
  await countMessages(db, principal.orgId, sessionId, 2);
  return { message_id: messageId, user_message_id: userMessageId, status: 'PENDING' };
}

/** Adds a message written elsewhere (a user's or an assistant's), as it is: COMPLETED. */
export async function addMessage(db: Db, principal: Principal, sessionId: string, body: CreateMessageBody): Promise<Message> {
  await loadOpenSession(db, principal, sessionId);
  const now = new Date().toISOString();
  const messageId = newId();
  const item = {
    ...keys.message(principal.orgId, sessionId, messageId),
    entity: 'message',
    message_id: messageId,
    session_id: sessionId,
    user_id: principal.userId,
    role: body.role,
    content: body.content,
    status: 'COMPLETED',
    created_at: now,
    completed_at: now,
    manual: true,
  };
  await db.doc.send(new PutCommand({ TableName: db.table, Item: item }));
  await countMessages(db, principal.orgId, sessionId, 1);
  return toMessage(item);
}

/** One message of a session the caller may read: what pollers read. */
export async function getMessage(db: Db, principal: Principal, sessionId: string, messageId: string): Promise<Message> {
  return view(db, await loadSessionItem(db, principal, sessionId, keys.message(principal.orgId, sessionId, messageId), 'Message'));
}

/** A session's messages, newest first by default, a page at a time. */
export async function listMessages(db: Db, principal: Principal, sessionId: string, query: ListMessagesQuery): Promise<Page<Message>> {
  await loadSession(db, principal, sessionId, 'read');
  const pk = keys.sessionPartition(principal.orgId, sessionId);
  const page = await queryPage(
    db,
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :msg)',
      ExpressionAttributeValues: { ':pk': pk, ':msg': MESSAGE_SK_PREFIX },
      ScanIndexForward: query.order === 'asc',
      ConsistentRead: true,
    },
    {
      limit: query.limit,
      exclusiveStartKey: query.after ? keys.message(principal.orgId, sessionId, query.after) : undefined,
      view: (item) => item,
      idOf: (item) => item.message_id as string,
    },
  );
  return { ...page, items: await Promise.all(page.items.map((item) => view(db, item))) };
}

/** Deletes one message. A waiting answer that is deleted is simply never written. */
export async function deleteMessage(db: Db, principal: Principal, sessionId: string, messageId: string): Promise<void> {
  await loadSession(db, principal, sessionId, 'write');
  const { Attributes } = await db.doc.send(
    new DeleteCommand({ TableName: db.table, Key: keys.message(principal.orgId, sessionId, messageId), ReturnValues: 'ALL_OLD' }),
  );
  if (!Attributes) throw notFound('Message');
  await countMessages(db, principal.orgId, sessionId, -1);
}
