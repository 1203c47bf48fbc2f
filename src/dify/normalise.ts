import type { ArchivedConversation, ArchivedMessage } from '../common/conversation-log';
import type { FetchedConversation } from './dify.types';

export interface NormaliseOptions {
  /** the source's app id */
  appId: string;
  organizationId: string | null;
  loggedAt: Date;
}

type Row = Record<string, unknown>;

const CONVERSATION_KEYS = [
  'conversation_id',
  'app_id',
  'organization_id',
  'name',
  'status',
  'from_source',
  'from_end_user_id',
  'from_end_user_session_id',
  'created_at',
  'updated_at',
  'dialogue_count',
  'messages',
  'app_mode',
  'app_name',
  'access_mode',
  'logged_at',
] as const;

const MESSAGE_KEYS = [
  'id',
  'conversation_id',
  'query',
  'answer',
  'created_at',
  'message_tokens',
  'answer_tokens',
  'provider_response_latency',
  'from_source',
  'from_end_user_id',
] as const;

/** Dify's `created_from` on workflow runs, mapped to the conversations' `from_source` vocabulary. */
const WORKFLOW_SOURCE: Record<string, string> = {
  'service-api': 'api',
  'web-app': 'api',
  'installed-app': 'console',
  debugging: 'console',
};

function isPlainObject(value: unknown): value is Row {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** A field that holds a point in time: `created_at`, `read_at`, `finished_at`, ... */
function isTimestampKey(key: string): boolean {
  return key.endsWith('_at');
}

/** Integer Unix seconds -> ISO 8601 UTC; anything else unchanged. */
export function unixToIso(value: unknown): unknown {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 1e11) {
    return new Date(value * 1000).toISOString();
  }
  return value;
}

function toIsoOrNull(value: unknown): string | null {
  if (typeof value === 'number') return unixToIso(value) as string;
  if (typeof value === 'string' && value) {
    const withZone = /[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`;
    const ms = Date.parse(withZone);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return null;
}

/** Deep copy with object keys sorted and every `*_at` integer rewritten as ISO: byte-stable output. */
function canonical(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => canonical(v));
  if (isPlainObject(value)) {
    const out: Row = {};
    for (const k of Object.keys(value).sort()) {
      if (value[k] !== undefined) out[k] = canonical(value[k], k);
    }
    return out;
  }
  return isTimestampKey(key) ? unixToIso(value) : value;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Named fields first in a fixed order, then every other field sorted by name. Only the other fields are
 * copied (canonical): the named ones' raw values would be copied just to be dropped.
 */
function ordered<T extends Row>(named: readonly string[], values: Row, rest: Row, omit: string[]): T {
  const out: Row = {};
  for (const k of named) out[k] = values[k];
  for (const k of Object.keys(rest).sort()) {
    if (!(k in out) && !omit.includes(k) && rest[k] !== undefined) out[k] = canonical(rest[k], k);
  }
  return out as T;
}

function workflowView(conversation: Row): Row {
  const run = isPlainObject(conversation.workflow_run) ? conversation.workflow_run : {};
  const endUser = isPlainObject(conversation.created_by_end_user) ? conversation.created_by_end_user : {};
  const createdFrom = str(conversation.created_from);
  return {
    ...conversation,
    id: str(run.id) ?? conversation.id,
    workflow_app_log_id: conversation.id,
    status: run.status ?? conversation.status,
    from_source: conversation.from_source ?? (createdFrom ? (WORKFLOW_SOURCE[createdFrom] ?? createdFrom) : null),
    from_end_user_id: conversation.from_end_user_id ?? endUser.id ?? null,
    from_end_user_session_id: conversation.from_end_user_session_id ?? endUser.session_id ?? null,
    updated_at: conversation.updated_at ?? run.finished_at ?? conversation.created_at,
  };
}

/** Fields of an Agent log row that depend on the window it was listed in (they count matching messages only). */
const AGENT_WINDOWED_KEYS = ['title', 'end_user_id', 'message_count', 'user_rate', 'operation_rate', 'status', 'created_at', 'updated_at'];

/**
 * An Agent log row is no conversation: its `created_at` is its latest message in the listing's window and
 * its counts cover that window only. The conversation is rebuilt from the row and the messages: it starts
 * at its first message and was last updated at its last one, so every run writes the same document.
 */
function agentView(row: Row, messages: Row[]): Row {
  const timed = messages
    .map((m) => ({ m, ms: Date.parse(toIsoOrNull(m.created_at) ?? '') }))
    .filter(({ ms }) => Number.isFinite(ms))
    .sort((a, b) => a.ms - b.ms);
  const first = timed[0]?.m;
  const last = timed[timed.length - 1]?.m;
  const rest = Object.fromEntries(Object.entries(row).filter(([k]) => !AGENT_WINDOWED_KEYS.includes(k)));
  return {
    ...rest,
    id: row.conversation_id ?? row.id,
    name: row.title ?? '',
    status: 'normal',
    from_source: str(first?.from_source) ?? 'api',
    from_end_user_id: str(row.end_user_id) ?? str(first?.from_end_user_id),
    created_at: first?.created_at ?? row.created_at,
    updated_at: last?.created_at ?? row.updated_at,
  };
}

/**
 * Turns what Dify returned for one conversation into the archive's document: the seed's fields, then
 * every other field Dify sent, with Unix-second timestamps as ISO 8601 UTC. Pure and deterministic:
 * the same input gives the same bytes apart from `logged_at`.
 *
 * Workflow apps: each run is one "conversation" whose id is the workflow run id (the log row's own id
 * is kept as `workflow_app_log_id`) holding one message built from the run.
 * Agent apps: the conversation is rebuilt from the Agent log row and its messages (see agentView), so its
 * `created_at` (and day folder) is its first message's time, as for every other conversation.
 */
export function toArchivedConversation(fetched: FetchedConversation, opts: NormaliseOptions): ArchivedConversation {
  const mode = fetched.app.mode;
  const raw =
    mode === 'workflow'
      ? workflowView(fetched.conversation)
      : mode === 'agent'
        ? agentView(fetched.conversation, fetched.messages)
        : fetched.conversation;
  const conversationId = String(raw.id ?? raw.conversation_id ?? '');
  const serviceMode = fetched.accessMode === 'service';
  const fromSource = str(raw.from_source) ?? (serviceMode ? 'api' : null);
  const fromEndUserId = str(raw.from_end_user_id);
  const createdAt = toIsoOrNull(raw.created_at) ?? new Date(0).toISOString();

  const messages = fetched.messages
    .map((m, i) => ({ m, i, t: Number(new Date(toIsoOrNull(m.created_at) ?? 0).getTime()) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map(({ m }) =>
      ordered<ArchivedMessage>(
        MESSAGE_KEYS,
        {
          id: String(m.id ?? ''),
          conversation_id: str(m.conversation_id) ?? conversationId,
          query: str(m.query) ?? '',
          answer: str(m.answer) ?? '',
          created_at: toIsoOrNull(m.created_at) ?? createdAt,
          message_tokens: num(m.message_tokens),
          answer_tokens: num(m.answer_tokens),
          provider_response_latency: num(m.provider_response_latency),
          from_source: str(m.from_source) ?? fromSource,
          from_end_user_id: str(m.from_end_user_id) ?? fromEndUserId,
        },
        m,
        [],
      ),
    );

  return ordered<ArchivedConversation>(
    CONVERSATION_KEYS,
    {
      conversation_id: conversationId,
      app_id: opts.appId,
      organization_id: opts.organizationId,
      name: str(raw.name) ?? '',
      status: str(raw.status) ?? 'normal',
      from_source: fromSource,
      from_end_user_id: fromEndUserId,
      from_end_user_session_id: str(raw.from_end_user_session_id) ?? fetched.user ?? null,
      created_at: createdAt,
      updated_at: toIsoOrNull(raw.updated_at) ?? createdAt,
      dialogue_count: messages.length,
      messages,
      app_mode: fetched.app.mode ?? null,
      app_name: fetched.app.name ?? null,
      access_mode: fetched.accessMode,
      logged_at: opts.loggedAt.toISOString(),
    },
    raw,
    ['id', 'messages'],
  );
}
