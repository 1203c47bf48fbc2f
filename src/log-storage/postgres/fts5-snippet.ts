import { foldText } from './full-text';

/**
 * The snippet SQLite's FTS5 makes with `snippet(fts, -1, '«', '»', '…', 16)` over the columns name, queries
 * and answers (tokenizer `unicode61 remove_diacritics 2`), made here for the PostgreSQL catalog so a search
 * answers the same text on both: the same column, the same window of words, the same marks. It follows
 * FTS5's own steps (fts5_aux.c): each hit proposes a window of `tokens` words around the hits it holds,
 * scored 1000 for each searched word seen first and 1 for each repeat, with a bonus for a window that starts
 * a sentence; the best window of the first best column wins; overlapping hits are marked as one.
 */

const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;
const ASCII_TEXT = /^[\x00-\x7f]*$/;
const SPACE = new Set([' ', '\t', '\n', '\r']);

interface Token {
  text: string;
  start: number;
  end: number;
}

interface Instance {
  phrase: number;
  column: number;
  offset: number;
}

/** The words of a text as the unicode61 tokenizer cuts them, folded, with their place in the text. */
export function fts5Tokens(text: string): Token[] {
  const tokens: Token[] = [];
  let start = -1;
  // a word of ASCII characters only folds to its lower case: no diacritic to take off
  let ascii = true;
  const end = (at: number) => {
    const word = text.slice(start, at);
    tokens.push({ text: ascii ? word.toLowerCase() : foldText(word), start, end: at });
    start = -1;
    ascii = true;
  };
  for (let i = 0; i < text.length; ) {
    const code = text.codePointAt(i)!;
    const width = code > 0xffff ? 2 : 1;
    const inToken = code < 0x80 ? isAsciiAlnum(code) : TOKEN_CHAR.test(text.slice(i, i + width));
    if (inToken) {
      if (start < 0) start = i;
      if (code >= 0x80) ascii = false;
    } else if (start >= 0) {
      end(i);
    }
    i += width;
  }
  if (start >= 0) end(text.length);
  return tokens;
}

function isAsciiAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

/** The phrases of an FTS5 query made by `ftsQuery`: each word's tokens, the last one matched as a prefix. */
export function fts5Phrases(text: string): string[][] {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? [];
  return words.slice(0, 16).map((w) => fts5Tokens(w).map((t) => t.text));
}

function instances(columns: (Token[] | null)[], phrases: string[][]): Instance[] {
  const found: Instance[] = [];
  columns.forEach((tokens, column) => {
    if (!tokens) return;
    for (let offset = 0; offset < tokens.length; offset++) {
      phrases.forEach((phrase, index) => {
        if (phrase.length === 0 || offset + phrase.length > tokens.length) return;
        const last = phrase.length - 1;
        for (let j = 0; j < last; j++) if (tokens[offset + j].text !== phrase[j]) return;
        if (tokens[offset + last].text.startsWith(phrase[last])) found.push({ phrase: index, column, offset });
      });
    }
  });
  // FTS5 orders instances by column, then offset, then phrase: the loops above already do
  return found;
}

/** The first token of each sentence: the first of the text, and each after a '.' or ':' and white space. */
function sentenceStarts(text: string, tokens: Token[]): number[] {
  const starts: number[] = [];
  tokens.forEach((token, pos) => {
    if (pos === 0) {
      starts.push(0);
      return;
    }
    let i = token.start - 1;
    while (i >= 0 && SPACE.has(text[i])) i--;
    if (i !== token.start - 1 && i >= 0 && (text[i] === '.' || text[i] === ':')) starts.push(pos);
  });
  return starts;
}

/** The index of the first hit at `offset` or after it, in hits sorted by offset. */
function firstAtOrAfter(hits: Instance[], offset: number): number {
  let low = 0;
  let high = hits.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (hits[mid].offset < offset) low = mid + 1;
    else high = mid;
  }
  return low;
}

/**
 * The score of the window [from, from + size) over the hits of one column (sorted by offset, then phrase):
 * only the hits inside the window are visited, found by a binary search, so scoring every hit's window
 * stays near linear however many hits a prefix such as `a` finds in a long answer.
 */
function score(hits: Instance[], phrases: string[][], from: number, size: number, columnSize: number): { score: number; start: number } {
  const seen = new Set<number>();
  let total = 0;
  let first = -1;
  let last = 0;
  for (let i = firstAtOrAfter(hits, from); i < hits.length && hits[i].offset < from + size; i++) {
    const inst = hits[i];
    total += seen.has(inst.phrase) ? 1 : 1000;
    seen.add(inst.phrase);
    if (first < 0) first = inst.offset;
    last = inst.offset + phrases[inst.phrase].length;
  }
  // C integer division truncates toward zero
  let start = first - Math.trunc((size - (last - first)) / 2);
  if (start + size > columnSize) start = columnSize - size;
  if (start < 0) start = 0;
  return { score: total, start };
}

/** The first token of each phrase of the search text: a column holds a hit only if it holds one of them. */
export function fts5FirstWords(text: string): string[] {
  return firstWordsOf(fts5Phrases(text));
}

function firstWordsOf(phrases: string[][]): string[] {
  return phrases.filter((p) => p.length > 0).map((p) => p[0]);
}

/** The snippet of the columns (name, queries, answers) for the search text, hits between « and ». */
export function fts5Snippet(columns: string[], text: string, size = 16): string {
  const phrases = fts5Phrases(text);
  const firstWords = firstWordsOf(phrases);
  // cutting a long answer into words is most of the work: a column that cannot hold a hit is only cut if shown
  const tokens = columns.map((c) => (mayHold(c, firstWords) ? fts5Tokens(c) : null));
  const all = instances(tokens, phrases);
  let bestScore = 0;
  let bestColumn = 0;
  let bestStart = 0;
  columns.forEach((columnText, column) => {
    const columnTokens = tokens[column];
    if (!columnTokens) return;
    const columnSize = columnTokens.length;
    const starts = sentenceStarts(columnText, columnTokens);
    const hits = all.filter((inst) => inst.column === column);
    // the hits come by offset, so the sentence each one is in only moves forward
    let jj = 0;
    for (const inst of hits) {
      const around = score(hits, phrases, inst.offset, size, columnSize);
      if (around.score > bestScore) {
        bestScore = around.score;
        bestColumn = column;
        bestStart = around.start;
      }
      if (starts.length && columnSize > size) {
        while (jj < starts.length - 1 && starts[jj + 1] <= inst.offset) jj++;
        if (starts[jj] < inst.offset) {
          const sentence = score(hits, phrases, starts[jj], size, columnSize).score + (starts[jj] === 0 ? 120 : 100);
          if (sentence > bestScore) {
            bestScore = sentence;
            bestColumn = column;
            bestStart = starts[jj];
          }
        }
      }
    }
  });
  return highlight(columns[bestColumn], tokens[bestColumn] ?? fts5Tokens(columns[bestColumn]), all, phrases, bestColumn, bestStart, size);
}

/**
 * Whether a column may hold a hit: a column of ASCII text holds one only if the first word of some phrase
 * is in its lower case text (each of its words is a piece of that text); any other column may.
 */
function mayHold(column: string, firstWords: string[]): boolean {
  if (!ASCII_TEXT.test(column)) return true;
  const lower = column.toLowerCase();
  return firstWords.some((word) => lower.includes(word));
}

/** FTS5's highlighting of the window [start, start + size) of one column (fts5HighlightCb). */
function highlight(text: string, tokens: Token[], all: Instance[], phrases: string[][], column: number, start: number, size: number): string {
  // the hits of the column, overlapping ones merged (fts5CInstIter)
  const hits: { start: number; end: number }[] = [];
  for (const inst of all) {
    if (inst.column !== column) continue;
    const end = inst.offset + phrases[inst.phrase].length - 1;
    const open = hits[hits.length - 1];
    if (open && inst.offset <= open.end) open.end = Math.max(open.end, end);
    else hits.push({ start: inst.offset, end });
  }
  let h = 0;
  while (h < hits.length && hits[h].start < start) h++;
  const rangeEnd = start + size - 1;
  let out = start > 0 ? '…' : '';
  let off = 0;
  let isOpen = false;
  let openedAt = 0;
  const hit = () => (h < hits.length ? hits[h] : { start: -1, end: -1 });
  tokens.forEach((token, pos) => {
    if (pos < start || pos > rangeEnd) return;
    if (start && pos === start) off = token.start;
    if (isOpen && (pos <= hit().start || hit().start < 0) && token.start > openedAt) {
      out += '»';
      isOpen = false;
    }
    if (pos === hit().start && !isOpen) {
      out += text.slice(off, token.start) + '«';
      off = token.start;
      isOpen = true;
      openedAt = token.end;
    }
    if (pos === hit().end) {
      if (!isOpen) {
        out += '«';
        isOpen = true;
        openedAt = token.end;
      }
      out += text.slice(off, token.end);
      off = token.end;
      h++;
    }
    if (pos === rangeEnd) {
      if (isOpen) {
        if (hit().start >= 0 && pos >= hit().start) {
          out += text.slice(off, token.end);
          off = token.end;
        }
        out += '»';
        isOpen = false;
      }
      out += text.slice(off, token.end);
      off = token.end;
    }
  });
  if (isOpen) out += '»';
  return rangeEnd >= tokens.length - 1 ? out + text.slice(off) : `${out}…`;
}
