import { parse } from 'csv-parse/sync';
import type { ArchivedConversation, ArchivedMessage } from '../common/conversation-log';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { csvField, csvRow, csvRowsOf, EXPORT_WRITERS, exportFileName, queryOf, withUtf8Bom } from './export-format';

const conv = {
  conversation_id: 'c-1',
  app_id: 'bot',
  app_name: 'Support Bot',
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
        app_name: 'Support Bot',
        organization_id: '',
        user: 'eu-1',
        from_source: 'api',
        message_id: 'm-1',
        created_at: '2024-01-16T12:30:29.000Z',
        query: 'a, "b"',
        answer: 'line 1\nline 2\r\nline 3',
        message_tokens: '3',
        answer_tokens: '',
        latency_s: '0.25',
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

  it('names its columns with their units', () => {
    expect(EXPORT_WRITERS.csv.head).toBe(
      'conversation_id,app_id,app_name,organization_id,user,from_source,message_id,created_at,query,answer,message_tokens,answer_tokens,latency_s,rating\r\n',
    );
  });

  describe(queryOf.name, () => {
    const message = (fields: Record<string, unknown>) => ({ id: 'm', query: '', ...fields }) as unknown as ArchivedMessage;
    it('uses the query when there is one', () => {
      expect(queryOf(message({ query: 'hi', message: [{ role: 'user', text: 'ignored' }] }))).toBe('hi');
    });
    it("fills a completion's empty query with the user's prompt messages", () => {
      const prompt = [
        { role: 'system', text: 'You write blurbs.', files: [] },
        { role: 'user', text: 'Write a product blurb for Kettle.', files: [] },
        { role: 'assistant', text: 'A kettle.', files: [] },
      ];
      expect(queryOf(message({ message: prompt }))).toBe('Write a product blurb for Kettle.');
      const row = parse(EXPORT_WRITERS.csv.head + csvRowsOf({ ...conv, messages: [message({ message: prompt })] }), { columns: true }) as Record<string, string>[];
      expect(row[0].query).toBe('Write a product blurb for Kettle.');
    });
    it('leaves the query empty without a prompt', () => {
      expect(queryOf(message({ message: null }))).toBe('');
      expect(queryOf(message({ message: [{ role: 'user' }, 'odd', null] }))).toBe('');
    });
  });

  it('puts a UTF-8 byte order mark in front of a stream', async () => {
    const out = await buffer(withUtf8Bom(Readable.from([Buffer.from('a,b\r\n'), Buffer.from('ü,中\r\n')])));
    expect([...out.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(out.subarray(3).toString('utf8')).toBe('a,b\r\nü,中\r\n');
  });

  it('names downloads after the range and the filters', () => {
    expect(exportFileName('csv', { start_date: '2024-01-01', end_date: '2024-01-31' })).toBe('conversations_2024-01-01_2024-01-31.csv');
    expect(exportFileName('ndjson')).toBe('conversations.ndjson');
    expect(
      exportFileName('json', {
        start_date: '2024-01-01',
        end_date: '2024-01-31',
        organization_id: 'acme',
        app_id: 'support-bot',
        from_source: 'api',
        user: 'jane doe/../x',
        rating: 'dislike',
        keyword: 'remboursé "vite"',
      }),
    ).toBe('conversations_2024-01-01_2024-01-31_org-acme_app-support-bot_api_user-jane-doe-..-x_dislike_keyword-rembourse-vite.json');
  });
});
