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
export type StoredSegment =
  | {
      kind: 'bytes';
      data: Buffer;
      items: number;
      /** a read buffer `data` lies in, which may be handed back (see `ArchiveStore.readFramed`) once written */
      reusable?: ArrayBuffer;
    }
  | { kind: 'check'; index: number };

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

/**
 * Members to add at the start of a stored object (`"organization_id":"acme",`, for a file in the seed's
 * format): the text that goes after its `{`, ending with a comma. Empty for none.
 */
export function organizationMember(organizationId: string | null): string {
  return `"organization_id":${JSON.stringify(organizationId)},`;
}

/**
 * Writes `{` + `insert` over the bytes just before a stored object's own `{`, which is at `at + insert.length`
 * (so the object's `{` becomes the insert's closing comma). Returns where the framed object starts.
 */
export function prepend(buf: Buffer, at: number, insert: string): number {
  if (!insert) return at;
  buf[at] = OPEN_BRACE;
  buf.write(insert, at + 1, 'utf8');
  return at;
}

/** `text` (a whole JSON object) framed for the mode in a buffer of its own, with `insert` after its `{`. */
export function framed(mode: StoredMode, text: Buffer, insert = ''): Buffer {
  const pre = mode === 'json' ? 1 : 0;
  const extra = Buffer.byteLength(insert);
  const own = Buffer.alloc(text.length + extra + 1);
  text.copy(own, pre + extra);
  prepend(own, pre, insert);
  if (mode === 'json') own[0] = COMMA;
  else {
    flatten(own, 0, text.length + extra);
    own[text.length + extra] = NEWLINE;
  }
  return own;
}

/** A stored object to frame: its key, the size it should have, and members to add at its start. */
export interface FramedItem {
  key: string;
  size: number;
  /** see `organizationMember`; absent or empty for none */
  insert?: string;
}

/**
 * Frames stored objects read one by one: `stored[i]` is item i's stored bytes (null when gone). An item
 * passes when it has the expected size and (gunzipped for a `.gz` key) holds one JSON object.
 */
export function frameStored(mode: StoredMode, items: FramedItem[], stored: (Buffer | null)[]): StoredSegment[] {
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
    run.push(framed(mode, text, item.insert));
  });
  cut();
  return segments;
}
