import { gunzipSync } from 'node:zlib';

/**
 * Stored conversations framed for an export without parsing them. Pure functions, shared by the fs store's
 * worker thread and the object-by-object path of any other store.
 */

/** `json`: each object preceded by a comma; `ndjson`: each object on one line (CR and LF bytes become spaces). */
export type StoredMode = 'json' | 'ndjson';

/**
 * What a batch of items became, in item order: runs of verified objects already framed for the mode, or one
 * item that has to be read and checked the slow way (missing, changed, or not gunzippable).
 */
export type StoredSegment = { kind: 'bytes'; data: Buffer; items: number } | { kind: 'check'; index: number };

const COMMA = 44;
const NEWLINE = 10;
const SPACE = 32;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** Replaces the CR and LF bytes in [from, to) with spaces (pretty-printed JSON has them only between tokens). */
export function flatten(buf: Buffer, from: number, to: number): void {
  for (const byte of [NEWLINE, 13]) {
    let i = buf.indexOf(byte, from);
    while (i !== -1 && i < to) {
      buf[i] = SPACE;
      i = buf.indexOf(byte, i + 1);
    }
  }
}

/** A stored conversation is JSON.stringify(conversation, null, 2): an object, no white space around it. */
export function looksWhole(buf: Buffer, from: number, to: number): boolean {
  return to - from >= 2 && buf[from] === OPEN_BRACE && buf[to - 1] === CLOSE_BRACE;
}

/** `text` (a whole JSON object) framed for the mode in a buffer of its own. */
export function framed(mode: StoredMode, text: Buffer): Buffer {
  const pre = mode === 'json' ? 1 : 0;
  const own = Buffer.alloc(text.length + 1);
  text.copy(own, pre);
  if (mode === 'json') own[0] = COMMA;
  else {
    flatten(own, 0, text.length);
    own[text.length] = NEWLINE;
  }
  return own;
}

/**
 * Frames stored objects read one by one: `stored[i]` is item i's stored bytes (null when gone). An item
 * passes when it has the expected size and (gunzipped for a `.gz` key) holds one JSON object.
 */
export function frameStored(mode: StoredMode, items: { key: string; size: number }[], stored: (Buffer | null)[]): StoredSegment[] {
  const segments: StoredSegment[] = [];
  let run: Buffer[] = [];
  const cut = () => {
    if (run.length) segments.push({ kind: 'bytes', data: Buffer.concat(run), items: run.length });
    run = [];
  };
  items.forEach((item, index) => {
    const bytes = stored[index];
    let text: Buffer | null = null;
    if (bytes && bytes.length === item.size) {
      try {
        text = item.key.endsWith('.gz') ? gunzipSync(bytes) : bytes;
      } catch {
        text = null;
      }
    }
    if (!text || !looksWhole(text, 0, text.length)) {
      cut();
      segments.push({ kind: 'check', index });
      return;
    }
    run.push(framed(mode, text));
  });
  cut();
  return segments;
}
