import { apiHandler } from '../../shared/http/api-handler.js';
import { CreateSessionBody } from '../../shared/schemas/sessions.js';
import { createSession } from '../../shared/sessions.js';
import { defaultDb } from '../../shared/store/db.js';

/** POST /openai/sessions */
export const handler = apiHandler({ body: CreateSessionBody }, async ({ principal, body }) => ({
  status: 201,
  body: await createSession(defaultDb(), principal, body),
}));
