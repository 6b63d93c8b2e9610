import { resumePoint } from '../../shared/api/sse.js';
import { streamHandler } from '../../shared/api/stream-handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultTaskService } from '../../shared/tasks/service.js';

/** GET /openai/sessions/{session_id}/ctx/{ctx_id}/stream: Server-Sent Events. */
export const handler = streamHandler(routes.StreamTask, ({ principal, params, headers }) =>
  defaultTaskService().follow(principal, params.session_id, params.ctx_id, resumePoint(headers)),
);
