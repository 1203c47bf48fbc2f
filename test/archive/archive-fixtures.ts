import type { ArchivedConversation, ArchivedMessage } from '../../src/common/conversation-log';

let counter = 0;

export interface ConversationSpec {
  id?: string;
  organization_id?: string | null;
  app_id?: string;
  created_at?: string;
  name?: string;
  from_source?: 'api' | 'console';
  user?: string | null;
  end_user_id?: string | null;
  messages?: Partial<ArchivedMessage>[];
}

/** A realistic archived conversation as the normaliser writes it (service-API shape). */
export function conversation(spec: ConversationSpec = {}): ArchivedConversation {
  counter++;
  const id = spec.id ?? `c0ffee00-0000-4000-8000-${String(counter).padStart(12, '0')}`;
  const created = spec.created_at ?? '2024-01-16T12:30:29.000Z';
  const start = Date.parse(created);
  const messages: ArchivedMessage[] = (spec.messages ?? [{ query: 'Hello', answer: 'Hi, how can I help?' }]).map((m, i) => ({
    id: `${id.slice(0, 24)}m${String(i).padStart(11, '0')}`,
    conversation_id: id,
    query: 'Hello',
    answer: 'Hi',
    created_at: new Date(start + i * 60_000).toISOString(),
    message_tokens: 10,
    answer_tokens: 20,
    provider_response_latency: 1.5,
    from_source: spec.from_source ?? 'api',
    from_end_user_id: spec.end_user_id === undefined ? 'eu-1' : spec.end_user_id,
    inputs: {},
    message_files: [],
    feedback: null,
    retriever_resources: [],
    agent_thoughts: [],
    status: 'normal',
    error: null,
    ...m,
  }));
  return {
    conversation_id: id,
    app_id: spec.app_id ?? 'support-bot',
    organization_id: spec.organization_id === undefined ? 'acme' : spec.organization_id,
    name: spec.name ?? 'A conversation',
    status: 'normal',
    from_source: spec.from_source ?? 'api',
    from_end_user_id: spec.end_user_id === undefined ? 'eu-1' : spec.end_user_id,
    from_end_user_session_id: spec.user === undefined ? 'user-1' : spec.user,
    created_at: created,
    updated_at: messages.length ? messages[messages.length - 1].created_at : created,
    dialogue_count: messages.length,
    inputs: {},
    introduction: '',
    messages,
    logged_at: new Date().toISOString(),
    app_mode: 'chat',
    app_name: 'Support Bot',
    access_mode: 'service',
  };
}

/** YYYY-MM-DD n days before today (UTC) at noon, as an ISO instant. */
export function daysAgo(n: number, time = '12:00:00.000'): string {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - n);
  return `${d.toISOString().slice(0, 10)}T${time}Z`;
}
