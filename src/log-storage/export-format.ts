import type { ArchivedConversation } from '../common/conversation-log';
import { messageRating } from './catalog-entry';
import type { ExportFormat } from './log-storage.types';

/** Pure text builders for the export formats; the service streams what they return. */

export const CSV_COLUMNS = [
  'conversation_id',
  'app_id',
  'organization_id',
  'user',
  'from_source',
  'message_id',
  'created_at',
  'query',
  'answer',
  'message_tokens',
  'answer_tokens',
  'latency',
  'rating',
] as const;

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

export function csvRowsOf(conv: ArchivedConversation): string {
  const user = conv.from_end_user_session_id ?? conv.from_end_user_id ?? '';
  const messages = Array.isArray(conv.messages) ? conv.messages : [];
  return messages
    .map((m) =>
      csvRow([
        conv.conversation_id,
        conv.app_id,
        conv.organization_id,
        user,
        conv.from_source,
        m.id,
        m.created_at,
        m.query,
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

export function exportFileName(format: ExportFormat, start?: string, end?: string): string {
  const range = start || end ? `_${start ?? 'start'}_${end ?? 'end'}` : '';
  return `conversations${range}.${EXPORT_WRITERS[format].extension}`;
}
