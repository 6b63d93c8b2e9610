import { apiHandler } from '../../shared/http/api-handler.js';
import { CreateTaskBody } from '../../shared/schemas/messages.js';
import { SessionPathParams } from '../../shared/schemas/sessions.js';
import { defaultDb } from '../../shared/store/db.js';
import { createTask } from '../../shared/tasks.js';

/** POST /openai/sessions/{session_id}/ctx: a one-shot task, 202 at once; its result is polled. */
export const handler = apiHandler(
  { params: SessionPathParams, notFoundName: 'Session', body: CreateTaskBody, idempotent: true },
  async ({ principal, params, body }) => ({ status: 202, body: await createTask(defaultDb(), principal, params.session_id, body) }),
);
