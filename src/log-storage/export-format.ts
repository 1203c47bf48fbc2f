import { Readable } from 'node:stream';
import type { ArchivedConversation, ArchivedMessage } from '../common/conversation-log';
import { messageRating } from './catalog-entry';
import type { ArchiveFilter, ExportFormat } from './log-storage.types';

/** Pure text builders for the export formats; the service streams what they return. */

/** Column names carry their unit where there is one (`latency_s`: seconds). */
export const CSV_COLUMNS = [
  'conversation_id',
  'app_id',
  'app_name',
  'organization_id',
  'user',
  'from_source',
  'message_id',
  'created_at',
  'query',
  'answer',
  'message_tokens',
  'answer_tokens',
  'latency_s',
  'rating',
] as const;

/** Excel on Windows reads a CSV as UTF-8 only when it starts with this mark. */
export const UTF8_BOM = '\uFEFF';

/** The export with a UTF-8 byte order mark in front; destroying the result destroys the source. */
export function withUtf8Bom(source: Readable): Readable {
  async function* prefixed() {
    yield Buffer.from(UTF8_BOM, 'utf8');
    yield* source;
  }
  const out = Readable.from(prefixed(), { objectMode: false });
  out.once('close', () => source.destroy());
  return out;
}

/** A cell a spreadsheet would run as a formula (or that hides one behind a tab or carriage return). */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * RFC 4180: quote when the field holds a comma, quote, CR or LF (or leading/trailing space); double the quotes.
 * Text that a spreadsheet would read as a formula gets a leading apostrophe, so archived messages (which anyone
 * chatting with the app wrote) stay text when the export is opened; numbers are written as they are.
 */
export function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const raw = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  const text = typeof value === 'string' && FORMULA_START.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** What the user asked: the query, or for completion apps (no query) the user's prompt messages. */
export function queryOf(message: ArchivedMessage): string {
  if (message.query) return message.query;
  const prompt = Array.isArray(message.message) ? (message.message as unknown[]) : [];
  return prompt
    .flatMap((p) => {
      const entry = p as { role?: unknown; text?: unknown };
      return entry && entry.role === 'user' && typeof entry.text === 'string' && entry.text ? [entry.text] : [];
    })
    .join('\n');
}

export function csvRowsOf(conv: ArchivedConversation): string {
  const user = conv.from_end_user_session_id ?? conv.from_end_user_id ?? '';
  const messages = Array.isArray(conv.messages) ? conv.messages : [];
  return messages
    .map((m) =>
      csvRow([
        conv.conversation_id,
        conv.app_id,
        conv.app_name,
        conv.organization_id,
        user,
        conv.from_source,
        m.id,
        m.created_at,
        queryOf(m),
        m.answer,
        m.message_tokens,
        m.answer_tokens,
        m.provider_response_latency,
        messageRating(m),
      ]),
    )
    .join('');
}

export interface ExportWriter {
  contentType: string;
  extension: string;
  head: string;
  item(conv: ArchivedConversation, index: number): string;
  tail(count: number): string;
}

export const EXPORT_WRITERS: Record<ExportFormat, ExportWriter> = {
  json: {
    contentType: 'application/json; charset=utf-8',
    extension: 'json',
    head: '{"success":true,"conversations":[',
    item: (conv, index) => `${index === 0 ? '' : ','}${JSON.stringify(conv)}`,
    // count comes last so nothing has to be held back while streaming
    tail: (count) => `],"count":${count}}`,
  },
  ndjson: {
    contentType: 'application/x-ndjson; charset=utf-8',
    extension: 'ndjson',
    head: '',
    item: (conv) => `${JSON.stringify(conv)}\n`,
    tail: () => '',
  },
  csv: {
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    head: csvRow(CSV_COLUMNS),
    item: (conv) => csvRowsOf(conv),
    tail: () => '',
  },
};

/** Filters in the order they appear in a file name, with their label (none: the value speaks for itself). */
const FILE_NAME_FILTERS = [
  ['organization_id', 'org-'],
  ['app_id', 'app-'],
  ['from_source', ''],
  ['user', 'user-'],
  ['rating', ''],
  ['keyword', 'keyword-'],
] as const;

/**
 * `conversations_<start>_<end>[_<filter>...].<ext>`: the name says which range and filters the file holds.
 * Filter values are reduced to letters, digits, `.`, `_` and `-` so the name is safe in any header or file system.
 */
export function exportFileName(format: ExportFormat, filter: ArchiveFilter = {}): string {
  const parts = ['conversations'];
  if (filter.start_date || filter.end_date) parts.push(filter.start_date ?? 'start', filter.end_date ?? 'end');
  for (const [key, label] of FILE_NAME_FILTERS) {
    const safe = (filter[key] ?? '').normalize('NFKD').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 40);
    if (safe) parts.push(`${label}${safe}`);
  }
  return `${parts.join('_')}.${EXPORT_WRITERS[format].extension}`;
}
