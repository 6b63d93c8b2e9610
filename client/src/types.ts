// Generated from docs/openapi.json by `npm run openapi` (bin/openapi/client-types.ts): do not edit.
// The shapes the API takes and answers, as its OpenAPI document describes them.

export type CreateSessionBody = {
  name?: string;
  system_prompt?: string | null;
};

export type UpdateSessionBody = {
  name?: string;
  system_prompt?: string | null;
  end?: true;
};

export type AskBody = {
  message: string;
  history?: Array<{
    role: "user" | "assistant";
    content: string;
  }>;
  model?: string;
};

export type CreateMessageBody = {
  role: "user" | "assistant";
  content: string;
};

export type CreateTaskBody = {
  task: string;
  history?: Array<{
    role: "user" | "assistant";
    content: string;
  }>;
  system_prompt?: string | null;
  model?: string;
};

export type Session = {
  session_id: string;
  name: string;
  system_prompt: string | null;
  session_start: string;
  session_end: string | null;
  user_id: string;
  org_id: string;
  message_count: number;
  last_message?: Message | null;
};

export type Message = {
  message_id: string;
  session_id: string;
  role: "user" | "assistant";
  content: string;
  status: "PENDING" | "PROCESSING" | "COMPLETED" | "FAILED" | "CANCELLED";
  model?: string;
  created_at: string;
  completed_at?: string;
  error?: string;
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
  };
  latency_ms?: number;
  timings?: {
    queue_ms: number;
    model_ms: number;
  };
};

export type ErrorBody = {
  error: string;
  code: string;
  request_id?: string;
};

export type SessionPage = {
  items: Array<Session>;
  has_more: boolean;
  next: string | null;
};

export type AskAccepted = {
  message_id: string;
  user_message_id: string;
  status: "PENDING";
};

export type MessagePage = {
  items: Array<Message>;
  has_more: boolean;
  next: string | null;
};

export type ContextTaskAccepted = {
  ctx_id: string;
  status: "pending";
};

export type ContextTask = {
  ctx_id: string;
  session_id: string;
  status: "pending" | "processing" | "done" | "error" | "cancelled";
  result: string | null;
  result_json?: unknown;
  error: string | null;
  model?: string;
  usage?: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
  };
  created_at: string;
  completed_at?: string;
  latency_ms?: number;
  timings?: {
    queue_ms: number;
    model_ms: number;
  };
};

export type UsageReport = {
  from: string;
  to: string;
  group_by: "day" | "model" | "user";
  items: Array<UsageItem>;
  totals: {
    requests: number;
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
  };
};

export type UsageItem = {
  date?: string;
  model?: string;
  user_id?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
};

export type ErasureAccepted = {
  status: "accepted";
};

/** What CreateSession answers on success. */
export type CreateSessionAnswer = Session;

/** What ListSessions answers on success. */
export type ListSessionsAnswer = SessionPage;

/** What GetSession answers on success. */
export type GetSessionAnswer = Session;

/** What UpdateSession answers on success. */
export type UpdateSessionAnswer = Session;

/** What DeleteSession answers on success. */
export type DeleteSessionAnswer = {
  deleted: true;
  session_id: string;
};

/** What Ask answers on success. */
export type AskAnswer = AskAccepted;

/** What ListMessages answers on success. */
export type ListMessagesAnswer = MessagePage;

/** What CreateMessage answers on success. */
export type CreateMessageAnswer = Message;

/** What GetMessage answers on success. */
export type GetMessageAnswer = Message;

/** What DeleteMessage answers on success. */
export type DeleteMessageAnswer = {
  deleted: true;
  message_id: string;
};

/** What CancelMessage answers on success. */
export type CancelMessageAnswer = Message;

/** What CreateTask answers on success. */
export type CreateTaskAnswer = ContextTaskAccepted;

/** What GetTask answers on success. */
export type GetTaskAnswer = ContextTask;

/** What CancelTask answers on success. */
export type CancelTaskAnswer = ContextTask;

/** What GetUsage answers on success. */
export type GetUsageAnswer = UsageReport;

/** What EraseUserData answers on success. */
export type EraseUserDataAnswer = ErasureAccepted;
