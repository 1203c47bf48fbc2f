import Database from 'better-sqlite3';
import { ftsQuery } from '../catalog-query';
import { fts5Snippet } from './fts5-snippet';

/** A small deterministic generator (mulberry32), so a failure names a case that can be run again. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['refund', 'Refunds', 'policy', 'café', 'CAFE', 'crème', 'Straße', 'über', '東京', '旅行', 'e_mail', 'O’Brien', "don't", 'order', 'ordering', 'card', '100%', 'x', 'a', 'naïve'];
const GLUE = [' ', ' ', ' ', ', ', '. ', ': ', '.\n', ' - ', '? ', '\n', ' (', ') ', ' 🎉 ', '...'];

function text(next: () => number, words: number): string {
  let out = '';
  for (let i = 0; i < words; i++) out += WORDS[Math.floor(next() * WORDS.length)] + GLUE[Math.floor(next() * GLUE.length)];
  return out;
}

describe(fts5Snippet.name, () => {
  let db: Database.Database;

  beforeAll(() => {
    db = new Database(':memory:');
    db.exec("CREATE VIRTUAL TABLE fts USING fts5 (name, queries, answers, tokenize = 'unicode61 remove_diacritics 2')");
  });
  afterAll(() => db.close());

  const sqlite = (columns: string[], query: string): string | null => {
    db.exec('DELETE FROM fts');
    db.prepare('INSERT INTO fts (rowid, name, queries, answers) VALUES (1, ?, ?, ?)').run(...columns);
    const row = db.prepare("SELECT snippet(fts, -1, '«', '»', '…', 16) AS s FROM fts WHERE fts MATCH ?").get(ftsQuery(query)) as { s: string } | undefined;
    return row?.s ?? null;
  };

  it('marks the hits of a short name', () => {
    expect(fts5Snippet(['Refund policy', '', ''], 'refund')).toBe('«Refund» policy');
    expect(sqlite(['Refund policy', '', ''], 'refund')).toBe('«Refund» policy');
  });

  it('picks the column, window and marks SQLite picks, over many generated texts and searches', () => {
    const next = random(20251206);
    let compared = 0;
    for (let n = 0; n < 1500; n++) {
      const columns = [text(next, 1 + Math.floor(next() * 6)), text(next, Math.floor(next() * 60)), text(next, Math.floor(next() * 120))];
      const query = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
        const w = WORDS[Math.floor(next() * WORDS.length)];
        return next() < 0.3 ? w.slice(0, Math.max(1, Math.floor(w.length / 2))) : w;
      }).join(' ');
      const expected = sqlite(columns, query);
      if (expected === null) continue;
      compared++;
      expect({ n, columns, query, snippet: fts5Snippet(columns, query) }).toEqual({ n, columns, query, snippet: expected });
    }
    expect(compared).toBeGreaterThan(500);
  });

  // SQLite's own snippet scores every hit's window over every hit, so only the small size is compared with it
  it.each([2_000, 100_000])('finds the one best window among %i hits of a one-letter prefix', (hits) => {
    const refundAt = Math.floor(hits / 2);
    const words = Array.from({ length: hits }, (_, i) => (i === refundAt ? 'refund' : i % 3 ? 'a' : 'about'));
    const columns = ['Order help', 'where is my order', `${words.join(' ')}.`];
    const expected = `…${words.slice(refundAt - 15, refundAt).map((w) => `«${w}»`).join(' ')} «refund»…`;
    expect(fts5Snippet(columns, 'refund a')).toBe(expected);
    if (hits <= 2_000) expect(sqlite(columns, 'refund a')).toBe(expected);
  });
});
