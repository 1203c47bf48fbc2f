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
  /**
   * hex MD5 of the stored bytes (an object's ETag), taken where they are written and, in a rebuild, from
   * the store's listing; '' where unknown: rows catalogued before the catalog kept it, and rows rebuilt
   * from a disk (whose listing has no ETags to compare it with)
   */
  md5: string;
  /** see `contentHash`; '' when a rebuild left it to the first save of the conversation (saves compare it) */
  content_hash: string;
  compressed: boolean;
  /** the file has no `organization_id` (the seed's format): it comes from the path, and exports add it */
  org_from_path: boolean;
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

/**
 * A JSON.stringify replacer that writes every object with its keys sorted (a copy only when they are not
 * sorted already), so the text does not depend on key order; native stringify does the rest.
 */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  let ordered = true;
  for (let i = 1; i < keys.length && ordered; i++) ordered = keys[i - 1] < keys[i];
  if (ordered) return value;
  keys.sort();
  // no prototype: a `__proto__` key stays an ordinary key
  const copy: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const k of keys) copy[k] = (value as Record<string, unknown>)[k];
  return copy;
}

const INTEGER_KEY = /^(0|[1-9]\d*)$/;

/**
 * Every key of every object in a JSON value, sorted; null when one of them is also a property of every
 * object or integer-like, or an object has a `toJSON`.
 */
function sortedKeysOf(value: unknown): string[] | null {
  const keys = new Set<string>();
  const visit = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    // what a toJSON returns is not walked here: such an object takes the copying path
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') keys.add('toJSON');
    for (const k of Object.keys(v)) {
      keys.add(k);
      visit((v as Record<string, unknown>)[k]);
    }
  };
  visit(value);
  const sorted = [...keys].sort();
  // an object writes its integer-like keys first, in numeric order, whatever the list says ("9" before "10")
  return sorted.some((k) => k in Object.prototype || k === 'toJSON' || INTEGER_KEY.test(k)) ? null : sorted;
}

/**
 * Identity of a conversation's content: everything but `logged_at`, independent of key order. Written as
 * JSON with every object's keys sorted: native stringify given the sorted keys of the whole document, which
 * writes each object's own keys in that order and skips the ones it lacks, without a copy of any object.
 * A key that every object inherits (`constructor`, `__proto__`) would be written for objects that lack it:
 * then the objects are copied with their keys sorted instead (`sortedKeys`), which gives the same text.
 */
export function contentHash(conv: ArchivedConversation): string {
  const { logged_at: _ignored, ...rest } = conv;
  const keys = sortedKeysOf(rest);
  return createHash('sha256')
    .update(keys ? JSON.stringify(rest, keys) : JSON.stringify(rest, sortedKeys))
    .digest('hex');
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

/**
 * The conversation in a file of the archive: a file in the seed's format has no `organization_id`, and
 * its organization is the one its path names (null for `conversations/YYYY/...`). Returns the value
 * unchanged when it has the field.
 */
export function withPathOrganization(
  value: ArchivedConversation,
  pathOrganization: string | null,
): { conversation: ArchivedConversation; orgFromPath: boolean } {
  if (Object.prototype.hasOwnProperty.call(value, 'organization_id')) return { conversation: value, orgFromPath: false };
  // first, where the vault's own files have it, so that a parsed export and a stored-bytes export agree
  const conversation = { organization_id: pathOrganization, ...(value as Record<string, unknown>) } as ArchivedConversation;
  return { conversation, orgFromPath: true };
}

/** Why a file's content cannot be catalogued under its path, or null. */
export function pathMismatch(conv: ArchivedConversation, info: Pick<ArchivePathInfo, 'organization_id' | 'conversation_id'>): string | null {
  if (conv.conversation_id !== info.conversation_id || (conv.organization_id || null) !== info.organization_id) {
    return 'its conversation_id or organization_id does not match the path';
  }
  return null;
}

export function catalogEntryOf(
  conv: ArchivedConversation,
  file: {
    path: string;
    size: number;
    sha256: string;
    md5: string;
    info: Pick<ArchivePathInfo, 'day' | 'dir' | 'compressed'>;
    orgFromPath?: boolean;
    /**
     * the conversation's `contentHash`, taken once by the caller (a save compares it before writing); ''
     * leaves it empty, for a rebuild (it costs as much as parsing the file)
     */
    contentHash: string;
  },
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
      md5: file.md5,
      content_hash: file.contentHash,
      compressed: file.info.compressed,
      org_from_path: file.orgFromPath === true,
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

/** an ETag that is the MD5 of the bytes (an object written in one PUT; a multipart upload's has a `-N`) */
export const MD5_ETAG = /^[0-9a-f]{32}$/;

/** A file to catalog: its key and what its path says. */
export interface CatalogSource {
  path: string;
  /** the store's ETag from its listing, when it has one */
  etag?: string;
  info: Pick<ArchivePathInfo, 'organization_id' | 'conversation_id' | 'day' | 'dir' | 'compressed'>;
}

/**
 * What a file gave for the catalog, or why it cannot be catalogued. `id`: set when its messages were not sent back but written to
 * a rebuild's message stage (see `MessageStage`) under that file id; `messages` is empty then.
 */
export type CatalogExtract = { ok: true; entry: CatalogEntry; messages: CatalogMessage[]; id?: number } | { ok: false; reason: string };

/**
 * Where a catalog rebuild lets the threads that read the files write the messages themselves, so that the
 * rows most numerous (ten and more per file) never cross to the thread that loads the catalog: `file` names
 * the stage (each thread writes a file of its own beside it), `firstId` is the file id of the first source,
 * the others following in order.
 */
export interface MessageStage {
  file: string;
  firstId: number;
}

/**
 * The catalog rows of a file's stored bytes (gunzipped when `compressed`): parsed, checked, the
 * organization taken from the path when the file has none, and matched against the path. The content
 * hash is left to the first save of the conversation (see `ArchiveWriter`), which is rare next to a rebuild.
 */
export function extractCatalogEntry(source: CatalogSource, stored: Buffer, text: Buffer | string): CatalogExtract {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  const problem = conversationProblem(value);
  if (problem) return { ok: false, reason: problem };
  const { conversation, orgFromPath } = withPathOrganization(value as ArchivedConversation, source.info.organization_id);
  const mismatch = pathMismatch(conversation, source.info);
  if (mismatch) return { ok: false, reason: mismatch };
  return { ok: true, ...catalogEntryOf(conversation, { path: source.path, size: stored.length, sha256: sha256Of(stored), md5: source.etag && MD5_ETAG.test(source.etag) ? source.etag : '', info: source.info, orgFromPath, contentHash: '' }) };
}
