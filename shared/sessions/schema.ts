import * as z from 'zod/mini';
import { MessageSchema } from '../messages/schema.js';
import { LIMITS } from '../platform/limits.js';
import { booleanParam, IdSchema, limitParam, pageOf, textField } from '../platform/schema-parts.js';

const nameField = z.string().check(
  z.trim(),
  z.minLength(1, 'must not be empty'),
  z.maxLength(LIMITS.maxNameChars, `must be at most ${LIMITS.maxNameChars} characters`),
);

/** POST /openai/sessions */
export const CreateSessionBody = z
  .strictObject({
    name: z.optional(nameField),
    system_prompt: z.optional(z.nullable(textField())),
  })
  .register(z.globalRegistry, { id: 'CreateSessionBody' });
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

/** PATCH /openai/sessions/{session_id} */
export const UpdateSessionBody = z
  .strictObject({
    name: z.optional(nameField),
    system_prompt: z.optional(z.nullable(textField())),
    end: z.optional(z.literal(true, 'can only be true: an ended session cannot be reopened')),
  })
  .check(z.refine((body) => Object.keys(body).length > 0, 'Give at least one of name, system_prompt or end.'))
  .register(z.globalRegistry, { id: 'UpdateSessionBody' });
export type UpdateSessionBody = z.infer<typeof UpdateSessionBody>;

/** GET /openai/sessions */
export const ListSessionsQuery = z.object({
  limit: limitParam(LIMITS.maxSessionPageSize),
  after: z.optional(IdSchema),
  include_last: booleanParam,
});
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;

export const SessionPathParams = z.object({ session_id: IdSchema });

/** A session as the API answers it. */
export const SessionSchema = z
  .object({
    session_id: z.string(),
    name: z.string(),
    system_prompt: z.nullable(z.string()),
    session_start: z.iso.datetime(),
    session_end: z.nullable(z.iso.datetime()),
    user_id: z.string(),
    org_id: z.string(),
    message_count: z.number(),
    last_message: z.optional(z.nullable(MessageSchema)),
  })
  .register(z.globalRegistry, { id: 'Session' });
export type Session = z.infer<typeof SessionSchema>;

/** GET /openai/sessions: a page of sessions. */
export const SessionPage = pageOf(SessionSchema, 'SessionPage');

/** DELETE /openai/sessions/{session_id} */
export const SessionDeleted = z.object({ deleted: z.literal(true), session_id: IdSchema });
