import { z } from 'zod';
import { LIMITS } from '../limits.js';
import { booleanParam, IdSchema, limitParam, textField } from './common.js';

const nameField = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(LIMITS.maxNameChars, `must be at most ${LIMITS.maxNameChars} characters`);

/** POST /openai/sessions */
export const CreateSessionBody = z
  .strictObject({
    name: nameField.optional(),
    system_prompt: textField().nullable().optional(),
  })
  .meta({ id: 'CreateSessionBody' });
export type CreateSessionBody = z.infer<typeof CreateSessionBody>;

/** PATCH /openai/sessions/{session_id} */
export const UpdateSessionBody = z
  .strictObject({
    name: nameField.optional(),
    system_prompt: textField().nullable().optional(),
    end: z.literal(true, { error: 'can only be true: an ended session cannot be reopened' }).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { error: 'Give at least one of name, system_prompt or end.' })
  .meta({ id: 'UpdateSessionBody' });
export type UpdateSessionBody = z.infer<typeof UpdateSessionBody>;

/** GET /openai/sessions */
export const ListSessionsQuery = z.object({
  limit: limitParam(LIMITS.maxSessionPageSize),
  after: IdSchema.optional(),
  include_last: booleanParam,
});
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;

export const SessionPathParams = z.object({ session_id: IdSchema });

/** A session as the API answers it. */
export const SessionSchema = z
  .object({
    session_id: z.string(),
    name: z.string(),
    system_prompt: z.string().nullable(),
    session_start: z.iso.datetime(),
    session_end: z.iso.datetime().nullable(),
    user_id: z.string(),
    org_id: z.string(),
    message_count: z.number().int(),
    last_message: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .meta({ id: 'Session' });
export type Session = z.infer<typeof SessionSchema>;
