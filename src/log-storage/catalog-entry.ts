import { createHash } from 'node:crypto';
import type { ArchivedConversation, ArchivedMessage } from '../common/conversation-log';
import type { ArchivePathInfo } from './archive-paths';

/** What the catalog knows about one file (pure data, built from a conversation). */
export interface CatalogEntry {
  path: string;
  /** '' when the conversation has no organization */
  org_key: string;
  organization_id: string | null;
  app_id: string;
  conversation_id: string;
  /** the day folder, YYYY-MM-DD */
  day: string;
  dir: string;
  name: string;
  size: number;
  sha256: string;
  content_hash: string;
  compressed: boolean;
  created_at: string;
  updated_at: string;
  message_count: number;
  tokens: number;
  avg_latency: number | null;
  from_source: string | null;
  end_user_id: string | null;
  end_user_session: string | null;
  likes: number;
  dislikes: number;
  errors: number;
  /** full-text fields */
  queries: string;
  answers: string;
}

export interface CatalogMessage {
  message_id: string;
  created_at: string;
  tokens: number;
  latency: number | null;
  rating: 'like' | 'dislike' | null;
  error: boolean;
}

export type Rating = 'like' | 'dislike';

function asRating(value: unknown): Rating | null {
  return value === 'like' || value === 'dislike' ? value : null;
}

/** Service API: `feedback.rating`; console API: `feedbacks[]` (the end user's wins over an admin's). */
export function messageRating(message: Partial<ArchivedMessage>): Rating | null {
  const feedback = message.feedback as { rating?: unknown } | null | undefined;
  const direct = asRating(feedback?.rating);
  if (direct) return direct;
  const list = Array.isArray(message.feedbacks) ? (message.feedbacks as { rating?: unknown; from_source?: unknown }[]) : [];
  const fromUser = list.find((f) => f?.from_source === 'user' && asRating(f.rating));
  return asRating((fromUser ?? list.find((f) => asRating(f?.rating)))?.rating);
}

export function messageHasError(message: Partial<ArchivedMessage>): boolean {
  return message.status === 'error' || (typeof message.error === 'string' && message.error.length > 0);
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Identity of a conversation's content: everything but `logged_at`, independent of key order. */
export function contentHash(conv: ArchivedConversation): string {
  const { logged_at: _ignored, ...rest } = conv;
  return createHash('sha256').update(canonical(rest)).digest('hex');
}

export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Checks the fields the archive relies on; returns the reason it cannot be used, or null. */
export function conversationProblem(value: unknown): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const c = value as Partial<ArchivedConversation>;
  if (typeof c.conversation_id !== 'string' || !c.conversation_id) return 'conversation_id is missing';
  if (typeof c.app_id !== 'string' || !c.app_id) return 'app_id is missing';
  if (c.organization_id !== null && c.organization_id !== undefined && typeof c.organization_id !== 'string') {
    return 'organization_id is not a string';
  }
  if (typeof c.created_at !== 'string' || Number.isNaN(Date.parse(c.created_at))) return 'created_at is not a date';
  if (c.messages !== undefined && !Array.isArray(c.messages)) return 'messages is not a list';
  return null;
}

function isoOrSelf(value: unknown, fallback: string): string {
  if (typeof value !== 'string') return fallback;
  const t = Date.parse(value);
  return Number.isNaN(t) ? fallback : new Date(t).toISOString();
}

export function catalogEntryOf(
  conv: ArchivedConversation,
  file: { path: string; size: number; sha256: string; info: Pick<ArchivePathInfo, 'day' | 'dir' | 'compressed'> },
): { entry: CatalogEntry; messages: CatalogMessage[] } {
  const rawMessages = Array.isArray(conv.messages) ? conv.messages : [];
  const createdAt = isoOrSelf(conv.created_at, conv.created_at);
  const messages: CatalogMessage[] = rawMessages
    .filter((m) => m && typeof m === 'object')
    .map((m) => {
      const latency = m.provider_response_latency;
      return {
        message_id: typeof m.id === 'string' ? m.id : '',
        created_at: isoOrSelf(m.created_at, createdAt),
        tokens: num(m.message_tokens) + num(m.answer_tokens),
        latency: typeof latency === 'number' && Number.isFinite(latency) ? latency : null,
        rating: messageRating(m),
        error: messageHasError(m),
      };
    });
  const latencies = messages.map((m) => m.latency).filter((l): l is number => l !== null);
  const text = (pick: (m: ArchivedMessage) => unknown) =>
    rawMessages.map((m) => (typeof pick(m) === 'string' ? (pick(m) as string) : '')).filter(Boolean).join('\n');
  const orgId = typeof conv.organization_id === 'string' && conv.organization_id ? conv.organization_id : null;
  return {
    entry: {
      path: file.path,
      org_key: orgId ?? '',
      organization_id: orgId,
      app_id: conv.app_id,
      conversation_id: conv.conversation_id,
      day: file.info.day,
      dir: file.info.dir,
      name: typeof conv.name === 'string' ? conv.name : '',
      size: file.size,
      sha256: file.sha256,
      content_hash: contentHash(conv),
      compressed: file.info.compressed,
      created_at: createdAt,
      updated_at: isoOrSelf(conv.updated_at, createdAt),
      message_count: messages.length,
      tokens: messages.reduce((sum, m) => sum + m.tokens, 0),
      avg_latency: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : null,
      from_source: typeof conv.from_source === 'string' ? conv.from_source : null,
      end_user_id: typeof conv.from_end_user_id === 'string' ? conv.from_end_user_id : null,
      end_user_session: typeof conv.from_end_user_session_id === 'string' ? conv.from_end_user_session_id : null,
      likes: messages.filter((m) => m.rating === 'like').length,
      dislikes: messages.filter((m) => m.rating === 'dislike').length,
      errors: messages.filter((m) => m.error).length,
      queries: text((m) => m.query),
      answers: text((m) => m.answer),
    },
    messages,
  };
}
