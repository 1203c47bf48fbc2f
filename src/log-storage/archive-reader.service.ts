import { Inject, Injectable } from '@nestjs/common';
import { ArchiveFiles } from './archive-files';
import { gzPathOf, parseArchivePath } from './archive-paths';
import { checkFilter, checkInteger, checkName, checkRange } from './archive-validation';
import { CATALOG, Catalog } from './catalog';
import { decodeCursor, encodeCursor, ftsQuery } from './catalog-query';
import { ArchiveNotFoundError, ArchiveQueryError } from './log-storage.errors';
import type {
  ArchiveFilter,
  ConversationResult,
  LogsSummary,
  SearchQuery,
  SearchResult,
  StatsQuery,
  StatsResult,
} from './log-storage.types';

export type ConversationRef = { path: string } | { conversation_id: string; organization_id?: string };

function round(value: number | null, digits = 3): number | null {
  if (value === null) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The archive's answers from the catalog (summary, count, search, stats) and single conversations. */
@Injectable()
export class ArchiveReader {
  constructor(
    private readonly files: ArchiveFiles,
    @Inject(CATALOG) private readonly catalog: Catalog,
  ) {}

  async getSummary(organizationId?: string): Promise<LogsSummary> {
    checkName('organization_id', organizationId);
    const { files, bytes, directories } = await this.catalog.summary(organizationId);
    return { success: true, total_files: files, total_size_bytes: bytes, directories };
  }

  async countConversations(filter: ArchiveFilter = {}): Promise<number> {
    checkFilter(filter);
    return this.catalog.count(filter);
  }

  /** Conversation files written after `since` (ISO time): saved, rewritten with new content, or compressed. */
  countWrittenSince(since: string): Promise<number> {
    return this.catalog.countWrittenSince(since);
  }

  async search(query: SearchQuery): Promise<SearchResult> {
    const { q, limit = 20, cursor, ...filter } = query;
    checkFilter(filter);
    checkInteger('limit', limit, 1, 100);
    let text: string | null = null;
    if (q !== undefined) {
      if (typeof q !== 'string' || q.length > 500 || !ftsQuery(q)) {
        throw new ArchiveQueryError('q', 'q must contain a letter or digit (at most 500 characters)');
      }
      text = q;
    }
    const after = cursor === undefined ? null : decodeCursor(cursor);
    if (cursor !== undefined && !after) throw new ArchiveQueryError('cursor', 'cursor is not a cursor from a previous page');
    const rows = await this.catalog.search(filter, text, after, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      success: true,
      results: page.map((r) => ({
        conversation_id: r.conversation_id,
        path: r.path,
        organization_id: r.organization_id,
        app_id: r.app_id,
        name: r.name,
        created_at: r.created_at,
        updated_at: r.updated_at,
        message_count: r.message_count,
        snippet: r.snippet ?? '',
      })),
      next_cursor: rows.length > limit ? encodeCursor({ created_at: last.created_at, id: last.id }) : null,
    };
  }

  /** Per day folder and app, and in total. Latency figures are seconds; p95 is the nearest rank. */
  async stats(query: StatsQuery = {}): Promise<StatsResult> {
    checkRange(query.start_date, query.end_date);
    checkName('organization_id', query.organization_id);
    checkName('app_id', query.app_id);
    const { rows, totals } = await this.catalog.stats(query);
    return {
      success: true,
      days: rows.map((r) => ({ ...r, avg_latency: round(r.avg_latency), p95_latency: round(r.p95_latency) })),
      totals: { ...totals, avg_latency: round(totals.avg_latency), p95_latency: round(totals.p95_latency) },
    };
  }

  /** One archived conversation by its relative path, or by conversation id (newest when several organizations hold it). */
  async getConversation(ref: ConversationRef): Promise<ConversationResult> {
    let filePath: string;
    if ('path' in ref) {
      if (!parseArchivePath(ref.path)) {
        throw new ArchiveQueryError('path', 'path must be a conversation file of the archive, e.g. conversations/<org>/YYYY/MM/DD/conversation_<id>_<time>.json');
      }
      filePath = ref.path;
      if (!filePath.endsWith('.gz') && !(await this.files.exists(filePath)) && (await this.files.exists(gzPathOf(filePath)))) {
        filePath = gzPathOf(filePath);
      }
    } else {
      checkName('conversation_id', ref.conversation_id);
      checkName('organization_id', ref.organization_id);
      const row = await this.catalog.findByConversationId(ref.conversation_id, ref.organization_id);
      if (!row) throw new ArchiveNotFoundError(`conversation ${ref.conversation_id} is not in the archive`);
      filePath = row.path;
    }
    const loaded = await this.files.load(filePath);
    if (!loaded) throw new ArchiveNotFoundError(`${filePath} is not in the archive`);
    if (!loaded.ok) throw new Error(`${filePath} cannot be read: ${loaded.reason}`);
    return { success: true, path: filePath, conversation: loaded.conversation };
  }
}
