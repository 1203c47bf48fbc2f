/**
 * The archive's file format: one JSON document per conversation.
 * The named fields are the seed's; every other field Dify returned is kept alongside them,
 * with integer Unix-second timestamps rewritten as ISO 8601 UTC strings.
 */
export interface ArchivedMessage {
  id: string;
  conversation_id: string;
  query: string;
  answer: string;
  /** ISO 8601 UTC */
  created_at: string;
  message_tokens: number | null;
  answer_tokens: number | null;
  /** seconds, as Dify reports it */
  provider_response_latency: number | null;
  from_source: string | null;
  from_end_user_id: string | null;
  [field: string]: unknown;
}

export type DifyAccessMode = 'service' | 'console-admin' | 'console-login';
/** `agent`: Dify 1.16's Agent apps (not the classic `agent-chat`), reached through the console's Agent logs */
export type DifyAppMode = 'chat' | 'agent-chat' | 'advanced-chat' | 'completion' | 'workflow' | 'agent';

export interface ArchivedConversation {
  conversation_id: string;
  /** the source's app id (for console modes: Dify's app UUID) */
  app_id: string;
  organization_id: string | null;
  name: string;
  status: string;
  /** Dify's own value: "api" (WebApp and Service API) or "console" (debugger, Explore) */
  from_source: string | null;
  from_end_user_id: string | null;
  /** the end user's `user` string as the app sent it */
  from_end_user_session_id: string | null;
  /** ISO 8601 UTC */
  created_at: string;
  /** ISO 8601 UTC */
  updated_at: string;
  /** number of messages */
  dialogue_count: number;
  /** chronological */
  messages: ArchivedMessage[];
  /** ISO 8601 UTC, when this file was written */
  logged_at: string;
  app_mode: DifyAppMode | null;
  app_name: string | null;
  access_mode: DifyAccessMode;
  [field: string]: unknown;
}
