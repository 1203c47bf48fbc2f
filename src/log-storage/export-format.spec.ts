import { parse } from 'csv-parse/sync';
import type { ArchivedConversation } from '../common/conversation-log';
import { csvField, csvRow, csvRowsOf, EXPORT_WRITERS, exportFileName } from './export-format';

const conv = {
  conversation_id: 'c-1',
  app_id: 'bot',
  organization_id: null,
  from_source: 'api',
  from_end_user_id: 'eu-1',
  from_end_user_session_id: null,
  messages: [
    {
      id: 'm-1',
      created_at: '2024-01-16T12:30:29.000Z',
      query: 'a, "b"',
      answer: 'line 1\nline 2\r\nline 3',
      message_tokens: 3,
      answer_tokens: null,
      provider_response_latency: 0.25,
      feedback: { rating: 'dislike' },
    },
  ],
} as unknown as ArchivedConversation;

describe('export formats', () => {
  describe(csvField.name, () => {
    it.each([
      ['plain', 'plain'],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
      ['two\nlines', '"two\nlines"'],
      ['cr\r', '"cr\r"'],
      [' padded', '" padded"'],
      [null, ''],
      [undefined, ''],
      [0, '0'],
      [1.5, '1.5'],
      [-2, '-2'],
      ['=1+1', "'=1+1"],
      ['+33 6 12', "'+33 6 12"],
      ['-2+3', "'-2+3"],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['\t=cmd', "'\t=cmd"],
      ['\r=cmd', '"\'\r=cmd"'],
      ['=HYPERLINK("http://x","y")', '"\'=HYPERLINK(""http://x"",""y"")"'],
      ['a=b', 'a=b'],
    ])('%j -> %j', (value, expected) => {
      expect(csvField(value)).toBe(expected);
    });

    it('writes rows ending in CRLF', () => {
      expect(csvRow(['a', 'b,c'])).toBe('a,"b,c"\r\n');
    });
  });

  it('round-trips one row per message through a CSV parser', () => {
    const text = EXPORT_WRITERS.csv.head + csvRowsOf(conv);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([
      {
        conversation_id: 'c-1',
        app_id: 'bot',
        organization_id: '',
        user: 'eu-1',
        from_source: 'api',
        message_id: 'm-1',
        created_at: '2024-01-16T12:30:29.000Z',
        query: 'a, "b"',
        answer: 'line 1\nline 2\r\nline 3',
        message_tokens: '3',
        answer_tokens: '',
        latency: '0.25',
        rating: 'dislike',
      },
    ]);
  });

  it('frames JSON as the seed does, with count last', () => {
    const w = EXPORT_WRITERS.json;
    const text = w.head + w.item(conv, 0) + w.item(conv, 1) + w.tail(2);
    expect(JSON.parse(text)).toEqual({ success: true, conversations: [conv, conv], count: 2 });
    expect(JSON.parse(w.head + w.tail(0))).toEqual({ success: true, conversations: [], count: 0 });
  });

  it('writes one line per conversation in ndjson', () => {
    const w = EXPORT_WRITERS.ndjson;
    expect((w.item(conv, 0) + w.item(conv, 1)).split('\n')).toHaveLength(3);
  });

  it('names downloads after the range', () => {
    expect(exportFileName('csv', '2024-01-01', '2024-01-31')).toBe('conversations_2024-01-01_2024-01-31.csv');
    expect(exportFileName('ndjson')).toBe('conversations.ndjson');
  });
});
