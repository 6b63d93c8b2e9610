import * as z from 'zod/mini';
import { LIMITS } from '../limits.js';
import { IdSchema, limitParam, textField } from './common.js';

const messageText = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(LIMITS.maxTextChars, `must be at most ${LIMITS.maxTextChars} characters`),
);
const modelName = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.maxLength(100, 'must be at most 100 characters'),
  z.regex(/^[\w.:/@-]+$/, 'must be a model name such as gpt-4o'),
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

/** POST /openai/sessions/{session_id}/ctx */
export const CreateTaskBody = z
  .strictObject({
    task: messageText,
    history: z.optional(History),
    system_prompt: z.optional(z.nullable(textField())),
    model: z.optional(modelName),
  })
  .register(z.globalRegistry, { id: 'CreateTaskBody' });
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

export const TaskPathParams = z.object({ session_id: IdSchema, ctx_id: IdSchema });

export const MessageStatus = z.enum(['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED']);
export type MessageStatus = z.infer<typeof MessageStatus>;
export const TaskStatus = z.enum(['pending', 'processing', 'done', 'error']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const Usage = z.object({ prompt_tokens: z.number(), completion_tokens: z.number(), total_tokens: z.number() });
export type Usage = z.infer<typeof Usage>;

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
  })
  .register(z.globalRegistry, { id: 'Message' });
export type Message = z.infer<typeof MessageSchema>;

/** A context task as the API answers it. */
export const TaskSchema = z
  .object({
    ctx_id: z.string(),
    session_id: z.string(),
    status: TaskStatus,
    result: z.nullable(z.string()),
    result_json: z.optional(z.unknown()),
    error: z.nullable(z.string()),
    model: z.optional(z.string()),
    usage: z.optional(Usage),
    created_at: z.string(),
    completed_at: z.optional(z.string()),
    latency_ms: z.optional(z.number()),
  })
  .register(z.globalRegistry, { id: 'ContextTask' });
export type Task = z.infer<typeof TaskSchema>;
