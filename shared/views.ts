import type { Message, Task } from './schemas/messages.js';

const copyPresent = (from: Record<string, unknown>, to: Record<string, unknown>, fields: readonly string[]): void => {
  for (const field of fields) if (from[field] !== undefined && from[field] !== null) to[field] = from[field];
};

/** A stored message as the API shows it; the rest (lease, request, timings) is the worker's. */
export function toMessage(item: Record<string, unknown>): Message {
  const message: Message = {
    message_id: item.message_id as string,
    session_id: item.session_id as string,
    role: item.role as Message['role'],
    content: (item.content as string) ?? '',
    status: item.status as Message['status'],
    created_at: item.created_at as string,
  };
  copyPresent(item, message, ['model', 'completed_at', 'error', 'usage', 'latency_ms']);
  return message;
}

/** A stored context task as the API shows it. */
export function toTask(item: Record<string, unknown>): Task {
  const task: Task = {
    ctx_id: item.ctx_id as string,
    session_id: item.session_id as string,
    status: item.status as Task['status'],
    result: (item.result as string | undefined) ?? null,
    error: (item.error as string | undefined) ?? null,
    created_at: item.created_at as string,
  };
  copyPresent(item, task, ['result_json', 'model', 'usage', 'completed_at', 'latency_ms']);
  return task;
}
