import { createHash } from 'node:crypto';
import { decodeCursor, encodeCursor, filterSql, ftsQuery, percentile } from './catalog-query';
import { catalogEntryOf, contentHash, conversationProblem, messageRating } from './catalog-entry';
import type { ArchivedConversation } from '../common/conversation-log';

describe('catalog queries and entries', () => {
  describe(ftsQuery.name, () => {
    it('quotes every word as a prefix term, dropping FTS syntax', () => {
      expect(ftsQuery('refund policy')).toBe('"refund"* "policy"*');
      expect(ftsQuery('a" OR b*) NEAR(')).toBe('"a"* "OR"* "b"* "NEAR"*');
      expect(ftsQuery('Größe')).toBe('"Größe"*');
    });

    it('is null without a word', () => {
      expect(ftsQuery('"*()')).toBeNull();
      expect(ftsQuery('')).toBeNull();
    });
  });

  it('builds parameterised filters', () => {
    const { where, params } = filterSql({ start_date: '2024-01-01', organization_id: 'acme', user: 'u', rating: 'like', keyword: 'x' });
    expect(where).toEqual([
      'f.day >= @start_date',
      'f.org_key = @org_key',
      '(f.end_user_id = @user OR f.end_user_session = @user)',
      'f.likes > 0',
      'f.id IN (SELECT rowid FROM fts WHERE fts MATCH @keyword)',
    ]);
    expect(params).toEqual({ start_date: '2024-01-01', org_key: 'acme', user: 'u', keyword: '"x"*' });
  });

  describe('cursor', () => {
    it('round-trips', () => {
      const c = { created_at: '2024-01-16T12:30:29.000Z', id: 42 };
      expect(decodeCursor(encodeCursor(c))).toEqual(c);
    });

    it.each(['', 'abc', '!!!', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["2024-01-01",-1]').toString('base64url')])(
      'refuses %j',
      (text) => {
        expect(decodeCursor(text)).toBeNull();
      },
    );
  });

  it('takes the nearest-rank percentile', () => {
    const values = Array.from({ length: 20 }, (_, i) => i + 1);
    expect(percentile(values, 95)).toBe(19);
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([], 95)).toBeNull();
  });

  describe(messageRating.name, () => {
    it('reads service and console feedback shapes', () => {
      expect(messageRating({ feedback: { rating: 'like' } })).toBe('like');
      expect(messageRating({ feedback: null })).toBeNull();
      expect(messageRating({ feedbacks: [{ rating: 'like', from_source: 'admin' }, { rating: 'dislike', from_source: 'user' }] })).toBe('dislike');
      expect(messageRating({ feedbacks: [{ rating: 'like', from_source: 'admin' }] })).toBe('like');
      expect(messageRating({ feedbacks: [{ rating: 'meh' }] })).toBeNull();
    });
  });

  describe(contentHash.name, () => {
    const conv = { conversation_id: 'c', app_id: 'a', logged_at: '2024-01-01T00:00:00Z', messages: [{ id: 'm', query: 'q' }] } as unknown as ArchivedConversation;

    it('ignores logged_at and key order, but not content', () => {
      expect(contentHash({ ...conv, logged_at: 'other' })).toBe(contentHash(conv));
      expect(contentHash({ messages: conv.messages, app_id: 'a', conversation_id: 'c' } as unknown as ArchivedConversation)).toBe(contentHash(conv));
      expect(contentHash({ ...conv, name: 'x' })).not.toBe(contentHash(conv));
    });

    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

    it('hashes the JSON text with every object’s keys sorted, a nested logged_at kept, undefined values left out', () => {
      const doc = { b: 1, a: { d: [{ y: 1, x: 2 }, 3], c: null, u: undefined }, logged_at: 'z', messages: [{ logged_at: 'keep', id: 'm' }] };
      expect(contentHash(doc as unknown as ArchivedConversation)).toBe(
        sha256('{"a":{"c":null,"d":[{"x":2,"y":1},3]},"b":1,"messages":[{"id":"m","logged_at":"keep"}]}'),
      );
    });

    it('writes keys every object inherits, and objects with a toJSON, only where they are', () => {
      const inherited = JSON.parse('{"z":{"b":1},"constructor":"c","__proto__":{"p":1},"a":{"toString":2}}') as ArchivedConversation;
      expect(contentHash(inherited)).toBe(sha256('{"__proto__":{"p":1},"a":{"toString":2},"constructor":"c","z":{"b":1}}'));
      // integer-like keys come first in numeric order, as every object enumerates them
      const numbered = { b: { '10': 1, '9': 2, a: 3, '01': 4 } } as unknown as ArchivedConversation;
      expect(contentHash(numbered)).toBe(sha256('{"b":{"9":2,"10":1,"01":4,"a":3}}'));
      const withToJson = { b: { toJSON: () => ({ y: 1, x: 2 }) }, a: 1 } as unknown as ArchivedConversation;
      expect(contentHash(withToJson)).toBe(sha256('{"a":1,"b":{"x":2,"y":1}}'));
    });
  });

  it('names what makes a document unusable', () => {
    expect(conversationProblem([])).toBe('not a JSON object');
    expect(conversationProblem({ app_id: 'a' })).toBe('conversation_id is missing');
    expect(conversationProblem({ conversation_id: 'c', app_id: 'a', created_at: 'never' })).toBe('created_at is not a date');
    expect(conversationProblem({ conversation_id: 'c', app_id: 'a', created_at: '2024-01-01T00:00:00Z' })).toBeNull();
  });

  it('extracts figures for the catalog', () => {
    const conv = {
      conversation_id: 'c',
      app_id: 'a',
      organization_id: null,
      name: 'n',
      created_at: '2024-01-16T12:00:00Z',
      updated_at: '2024-01-16T12:05:00Z',
      from_source: 'api',
      from_end_user_id: 'eu',
      from_end_user_session_id: 'sess',
      messages: [
        { id: 'm1', query: 'q1', answer: 'a1', created_at: '2024-01-16T12:00:00Z', message_tokens: 1, answer_tokens: 2, provider_response_latency: 1, feedback: { rating: 'like' } },
        { id: 'm2', query: 'q2', answer: 'a2', created_at: '2024-01-16T12:01:00Z', message_tokens: null, answer_tokens: 4, provider_response_latency: null, status: 'error', error: 'boom' },
      ],
    } as unknown as ArchivedConversation;
    const { entry, messages } = catalogEntryOf(conv, {
      path: 'p',
      size: 10,
      sha256: 'h',
      md5: 'm',
      info: { day: '2024-01-16', dir: 'conversations/2024/01/16', compressed: false },
      contentHash: 'ch',
    });
    expect(entry).toMatchObject({
      content_hash: 'ch',
      org_key: '',
      organization_id: null,
      created_at: '2024-01-16T12:00:00.000Z',
      message_count: 2,
      tokens: 7,
      avg_latency: 1,
      likes: 1,
      dislikes: 0,
      errors: 1,
      end_user_id: 'eu',
      end_user_session: 'sess',
      queries: 'q1\nq2',
      answers: 'a1\na2',
    });
    expect(messages.map((m) => [m.tokens, m.latency, m.rating, m.error])).toEqual([
      [3, 1, 'like', false],
      [4, null, null, true],
    ]);
  });
});
