import * as z from 'zod/mini';
import { MODEL_MAX_LENGTH, MODEL_PATTERN } from '../contract/rules.js';
import { LIMITS } from '../platform/limits.js';
import { IdSchema, limitParam, pageOf, textField } from '../platform/schema-parts.js';

/** A message or a task: 1 to 100,000 characters. */
export const messageText = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(LIMITS.maxTextChars, `must be at most ${LIMITS.maxTextChars} characters`),
);
/** A model a request may name. */
export const modelName = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(MODEL_MAX_LENGTH, `must be at most ${MODEL_MAX_LENGTH} characters`),
  z.regex(MODEL_PATTERN, 'must be a model name such as gpt-4o'),
);

/** One earlier turn given by the client. */
export const HistoryEntry = z.strictObject({
  role: z.enum(['user', 'assistant'], 'must be "user" or "assistant"'),
  content: textField(),
});
export const History = z
  .array(HistoryEntry)
  .check(z.maxLength(LIMITS.maxHistoryEntries, `must have at most ${LIMITS.maxHistoryEntries} entries`));
export type History = z.infer<typeof History>;

/** POST /openai/sessions/{session_id}/ask */
export const AskBody = z
  .strictObject({
    message: messageText,
    /** When present (even `[]`), exactly the earlier conversation the model sees. */
    history: z.optional(History),
    model: z.optional(modelName),
  })
  .register(z.globalRegistry, { id: 'AskBody' });
export type AskBody = z.infer<typeof AskBody>;

/** POST /openai/sessions/{session_id}/messages */
export const CreateMessageBody = z
  .strictObject({
    role: z.enum(['user', 'assistant'], 'must be "user" or "assistant"'),
    content: messageText,
  })
  .register(z.globalRegistry, { id: 'CreateMessageBody' });
export type CreateMessageBody = z.infer<typeof CreateMessageBody>;

/** GET /openai/sessions/{session_id}/messages */
export const ListMessagesQuery = z.object({
  limit: limitParam(LIMITS.maxPageSize),
  order: z._default(z.enum(['asc', 'desc'], 'must be asc or desc'), 'desc'),
  after: z.optional(IdSchema),
});
export type ListMessagesQuery = z.infer<typeof ListMessagesQuery>;

export const MessagePathParams = z.object({ session_id: IdSchema, message_id: IdSchema });

export const MessageStatus = z.enum(['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED']);
export type MessageStatus = z.infer<typeof MessageStatus>;

export const Usage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
export type Usage = z.infer<typeof Usage>;

/** Where a finished answer's time went: waiting for a worker, and the model itself (of `latency_ms`). */
export const Timings = z.object({ queue_ms: z.number(), model_ms: z.number() });

/** A message as the API answers it. */
export const MessageSchema = z
  .object({
    message_id: z.string(),
    session_id: z.string(),
    role: z.enum(['user', 'assistant']),
    content: z.string(),
    status: MessageStatus,
    model: z.optional(z.string()),
    created_at: z.string(),
    completed_at: z.optional(z.string()),
    error: z.optional(z.string()),
    usage: z.optional(Usage),
    latency_ms: z.optional(z.number()),
    timings: z.optional(Timings),
  })
  .register(z.globalRegistry, { id: 'Message' });
export type Message = z.infer<typeof MessageSchema>;


/** GET .../messages: a page of messages. */
export const MessagePage = pageOf(MessageSchema, 'MessagePage');

/** POST .../ask: what is answered at once (the answer itself is polled as a message). */
export const AskAccepted = z
  .object({ message_id: IdSchema, user_message_id: IdSchema, status: z.literal('PENDING') })
  .register(z.globalRegistry, { id: 'AskAccepted' });
export type AskAccepted = z.infer<typeof AskAccepted>;

/** DELETE .../messages/{message_id} */
export const MessageDeleted = z.object({ deleted: z.literal(true), message_id: IdSchema });
