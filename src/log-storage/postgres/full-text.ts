/**
 * Full-text words for PostgreSQL, cut the way the SQLite catalog's FTS5 `unicode61 remove_diacritics 2`
 * tokenizer cuts them, so a search finds the same conversations on both: a word is a run of letters,
 * digits and private-use characters; Latin letters lose their diacritics; case is folded. The words are
 * handed to `to_tsvector`/`to_tsquery` already folded and separated by spaces, so the text search
 * configuration (CATALOG_FTS_LANGUAGE) only decides what a word becomes (`simple`: itself).
 */

const WORD = /[\p{L}\p{N}\p{Co}]+/gu;
/** how ftsQuery (catalog-query.ts) picks the words of a search text */
const QUERY_WORD = /[\p{L}\p{N}_]+/gu;
const MAX_QUERY_WORDS = 16;
/** PostgreSQL skips longer lexemes (2047 bytes) */
const MAX_WORD_BYTES = 2047;
/**
 * A tsvector holds at most 1 MB. Each distinct word costs its bytes plus about 8, each position 2 (256 at
 * most per word are kept); words past this budget are left out of the document.
 */
const DOCUMENT_BUDGET_BYTES = 800_000;
const MAX_POSITIONS = 256;

/** Latin letters without their diacritics, then lower case. */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/(\p{Script=Latin})\p{M}+/gu, '$1')
    .normalize('NFC')
    .toLowerCase();
}

export function words(text: string): string[] {
  return foldText(text).match(WORD) ?? [];
}

/**
 * The words of each field joined by spaces, within one budget over all fields (the tsvector limit):
 * the start of a huge conversation stays searchable instead of the whole insert failing.
 */
export function documentFields(fields: string[]): string[] {
  let budget = DOCUMENT_BUDGET_BYTES;
  const positions = new Map<string, number>();
  return fields.map((field) => {
    const kept: string[] = [];
    for (const word of words(field)) {
      const bytes = Buffer.byteLength(word, 'utf8');
      if (bytes > MAX_WORD_BYTES) continue;
      const seen = positions.get(word);
      const cost = (seen === undefined ? bytes + 8 : 0) + ((seen ?? 0) < MAX_POSITIONS ? 2 : 0);
      if (cost > budget) break;
      budget -= cost;
      positions.set(word, (seen ?? 0) + 1);
      kept.push(word);
    }
    return kept.join(' ');
  });
}

/** A tsquery operand: the lexeme quoted, so no character of it is read as an operator. */
function operand(word: string, suffix: string): string {
  return `'${word.replace(/\\/g, '\\\\').replace(/'/g, "''")}'${suffix}`;
}

export interface SearchTerms {
  /** every term, ANDed: the `to_tsquery` text */
  query: string;
}

/**
 * Free text as a `to_tsquery` text: every word must occur as a word or a word prefix; a word that
 * FTS5 reads as a phrase (`foo_bar`) is a phrase here too. Null when the text holds no word.
 */
export function searchTerms(text: string): SearchTerms | null {
  const phrases = (text.normalize('NFKC').match(QUERY_WORD) ?? [])
    .slice(0, MAX_QUERY_WORDS)
    .map((w) => words(w).filter((p) => Buffer.byteLength(p, 'utf8') <= MAX_WORD_BYTES))
    .filter((parts) => parts.length > 0);
  if (!phrases.length) return null;
  const term = (parts: string[]) => parts.map((p, i) => operand(p, i === parts.length - 1 ? ':*' : '')).join(' <-> ');
  const wrap = (t: string, parts: string[]) => (parts.length > 1 ? `(${t})` : t);
  return { query: phrases.map((parts) => wrap(term(parts), parts)).join(' & ') };
}
