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
  /** each term on its own, limited to one field (weights A, B, C), for choosing the snippet's field */
  byField: [string[], string[], string[]];
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
  const term = (parts: string[], weight: string) =>
    parts.map((p, i) => operand(p, i === parts.length - 1 ? `:*${weight}` : weight ? `:${weight}` : '')).join(' <-> ');
  const wrap = (t: string, parts: string[]) => (parts.length > 1 ? `(${t})` : t);
  return {
    query: phrases.map((parts) => wrap(term(parts, ''), parts)).join(' & '),
    byField: (['A', 'B', 'C'] as const).map((w) => phrases.map((parts) => term(parts, w))) as [string[], string[], string[]],
  };
}

/** What ts_headline marks hits with; swapped for « and » once the hits are placed on the original text. */
export const HIT_START = '\u0001';
export const HIT_END = '\u0002';

/**
 * The text folded one character at a time (diacritics, case), so every character of the folded text
 * stands for the character at the same place in the original; ts_headline marks hits on the folded text
 * (where its parser finds the folded words) and `placeHits` carries the marks back.
 */
export function foldForHeadline(text: string): string {
  return [...text]
    .map((ch) => {
      if (ch === HIT_START || ch === HIT_END || ch === '\u0000') return ' ';
      const folded = foldText(ch);
      return [...folded].length === 1 ? folded : ch;
    })
    .join('');
}

/**
 * The original text of a headline made from `foldForHeadline(original)`, hits between « and », with …
 * where the fragment leaves text out (as FTS5's snippet). Null when the headline is not a fragment of it.
 */
export function placeHits(original: string, headline: string): string | null {
  const source = [...original];
  const folded = [...foldForHeadline(original)].join('');
  const plain = headline.split(HIT_START).join('').split(HIT_END).join('');
  const at = folded.indexOf(plain);
  if (at < 0) return null;
  let k = [...folded.slice(0, at)].length;
  const start = k;
  let out = '';
  for (const ch of headline) {
    if (ch === HIT_START) out += '«';
    else if (ch === HIT_END) out += '»';
    else out += source[k++];
  }
  return `${start > 0 ? '…' : ''}${out}${k < source.length ? '…' : ''}`;
}
