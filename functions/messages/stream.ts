import { resumePoint } from '../../shared/api/sse.js';
import { streamHandler } from '../../shared/api/stream-handler.js';
import { routes } from '../../shared/contract/routes.js';
import { defaultMessageService } from '../../shared/messages/service.js';

/** GET /openai/sessions/{session_id}/messages/{message_id}/stream: Server-Sent Events. */
export const handler = streamHandler(routes.StreamMessage, ({ principal, params, headers }) =>
  defaultMessageService().follow(principal, params.session_id, params.message_id, resumePoint(headers)),
);
