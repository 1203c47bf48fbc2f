import * as path from 'node:path';
import {
  absoluteInside,
  addDays,
  conversationPath,
  dayDir,
  gzPathOf,
  isValidDay,
  localTime,
  parseArchivePath,
  plainPathOf,
  retentionCutoff,
  todayIn,
} from './archive-paths';

describe('archive paths', () => {
  describe(localTime.name, () => {
    it('equals the ISO string with : and . replaced in UTC', () => {
      expect(localTime('2024-01-16T12:30:29.000Z', 'UTC')).toEqual({ day: '2024-01-16', stamp: '2024-01-16T12-30-29-000Z' });
      expect(localTime('2024-01-16T12:30:29.123Z', 'Etc/UTC').stamp).toBe('2024-01-16T12-30-29-123Z');
    });

    it('renders local time with the offset, moving the day across midnight', () => {
      expect(localTime('2024-01-16T23:30:00.000Z', 'Europe/Berlin')).toEqual({ day: '2024-01-17', stamp: '2024-01-17T00-30-00-000+01-00' });
      expect(localTime('2024-07-16T23:30:00.000Z', 'Europe/Berlin').stamp).toBe('2024-07-17T01-30-00-000+02-00');
      expect(localTime('2024-01-16T03:00:00.000Z', 'America/New_York')).toEqual({ day: '2024-01-15', stamp: '2024-01-15T22-00-00-000-05-00' });
      expect(localTime('2024-01-16T00:00:00.000Z', 'Asia/Kolkata').stamp).toBe('2024-01-16T05-30-00-000+05-30');
    });

    it('uses Z when the zone has no offset at that instant', () => {
      expect(localTime('2024-01-16T10:00:00.000Z', 'Europe/London').stamp).toBe('2024-01-16T10-00-00-000Z');
      expect(localTime('2024-07-16T10:00:00.000Z', 'Europe/London').stamp).toBe('2024-07-16T11-00-00-000+01-00');
    });

    it('handles midnight (never 24 o’clock)', () => {
      expect(localTime('2024-01-16T00:00:00.000Z', 'UTC').stamp).toBe('2024-01-16T00-00-00-000Z');
    });

    it('refuses an invalid date', () => {
      expect(() => localTime('yesterday', 'UTC')).toThrow('created_at is not a valid date');
    });
  });

  describe('days', () => {
    it('validates calendar days', () => {
      expect(isValidDay('2024-02-29')).toBe(true);
      expect(isValidDay('2023-02-29')).toBe(false);
      expect(isValidDay('2024-1-01')).toBe(false);
      expect(isValidDay('2024-01-01T00:00:00Z')).toBe(false);
      expect(isValidDay(20240101)).toBe(false);
    });

    it('adds days across months and years', () => {
      expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
      expect(addDays('2023-12-31', 1)).toBe('2024-01-01');
      expect(addDays('2024-01-10', -40)).toBe('2023-12-01');
    });

    it('computes today and the retention cutoff in the zone', () => {
      const now = new Date('2024-01-16T23:30:00.000Z');
      expect(todayIn('UTC', now)).toBe('2024-01-16');
      expect(todayIn('Asia/Tokyo', now)).toBe('2024-01-17');
      expect(retentionCutoff(7, 'UTC', now)).toBe('2024-01-09');
      expect(retentionCutoff(7, 'Asia/Tokyo', now)).toBe('2024-01-10');
    });
  });

  describe(conversationPath.name, () => {
    const conv = { conversation_id: 'abc-1', organization_id: 'acme', created_at: '2024-01-16T12:30:29.000Z' };

    it('builds the layout with and without organization', () => {
      expect(conversationPath(conv, 'UTC')).toBe('conversations/acme/2024/01/16/conversation_abc-1_2024-01-16T12-30-29-000Z.json');
      expect(conversationPath({ ...conv, organization_id: null }, 'UTC')).toBe(
        'conversations/2024/01/16/conversation_abc-1_2024-01-16T12-30-29-000Z.json',
      );
      expect(dayDir('acme', '2024-01-16')).toBe('conversations/acme/2024/01/16');
    });

    it.each(['..', '.', 'a/b', 'a\\b', '', 'x'.repeat(65)])('refuses the unsafe id %j', (bad) => {
      expect(() => conversationPath({ ...conv, conversation_id: bad }, 'UTC')).toThrow('conversation_id is not a safe name');
      expect(() => conversationPath({ ...conv, organization_id: bad }, 'UTC')).toThrow('organization_id is not a safe name');
    });
  });

  describe(parseArchivePath.name, () => {
    it('reads the identity back, also for gzipped files and ids with underscores', () => {
      expect(parseArchivePath('conversations/acme/2024/01/16/conversation_a_b_2024-01-16T12-30-29-000Z.json.gz')).toEqual({
        organization_id: 'acme',
        day: '2024-01-16',
        dir: 'conversations/acme/2024/01/16',
        conversation_id: 'a_b',
        compressed: true,
      });
      expect(parseArchivePath('conversations/2024/01/16/conversation_x_2024-01-16T00-30-00-000+01-00.json')).toMatchObject({
        organization_id: null,
        conversation_id: 'x',
        compressed: false,
      });
      expect(parseArchivePath('conversations/2024/2024/01/16/conversation_x_2024-01-16T00-30-00-000Z.json')?.organization_id).toBe('2024');
    });

    it.each([
      'conversations/acme/2024/01/16/notes.txt',
      'conversations/acme/2024/02/30/conversation_x_2024-02-30T00-00-00-000Z.json',
      'conversations/../2024/01/16/conversation_x_2024-01-16T00-00-00-000Z.json',
      'conversations/acme/2024/01/16/conversation_x_2024-01-16T00-00-00-000Z.json.tmp',
      '/conversations/acme/2024/01/16/conversation_x_2024-01-16T00-00-00-000Z.json',
      'catalog.sqlite',
    ])('refuses %s', (p) => {
      expect(parseArchivePath(p)).toBeNull();
    });
  });

  describe(absoluteInside.name, () => {
    const root = path.resolve('/srv/logs');

    it('joins inside the root', () => {
      expect(absoluteInside(root, 'conversations/acme/x.json')).toBe(path.join(root, 'conversations', 'acme', 'x.json'));
    });

    it.each(['../etc/passwd', 'conversations/../../etc', 'a//b', 'a/./b', 'a\\..\\b', '/etc/passwd', 'a\0b'])('refuses %j', (p) => {
      expect(() => absoluteInside(root, p)).toThrow('path escapes the archive root');
    });
  });

  it('names the gzipped file', () => {
    expect(gzPathOf('a/b.json')).toBe('a/b.json.gz');
    expect(gzPathOf('a/b.json.gz')).toBe('a/b.json.gz');
  });

  it('names the plain file a gzipped one was made from, and none for a plain file', () => {
    expect(plainPathOf('a/b.json.gz')).toBe('a/b.json');
    expect(plainPathOf('a/b.json')).toBeNull();
  });
});
