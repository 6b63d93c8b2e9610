import * as z from 'zod/mini';
import { IdSchema, textField } from '../platform/schema-parts.js';
import { History, messageText, modelName, Timings, Usage } from '../messages/schema.js';

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

export const TaskStatus = z.enum(['pending', 'processing', 'done', 'error', 'cancelled']);
export type TaskStatus = z.infer<typeof TaskStatus>;

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
    timings: z.optional(Timings),
  })
  .register(z.globalRegistry, { id: 'ContextTask' });
export type Task = z.infer<typeof TaskSchema>;

/** POST .../ctx: what is answered at once (the result is polled). */
export const TaskAccepted = z.object({ ctx_id: IdSchema, status: z.literal('pending') }).register(z.globalRegistry, { id: 'ContextTaskAccepted' });
export type TaskAccepted = z.infer<typeof TaskAccepted>;
