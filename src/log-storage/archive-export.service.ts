import { Inject, Injectable, Logger } from '@nestjs/common';
import { Readable, type Writable } from 'node:stream';
import type { ArchivedConversation } from '../common/conversation-log';
import { ArchiveFiles } from './archive-files';
import { checkFilter, checkFormat } from './archive-validation';
import { CATALOG, Catalog, ExportRow } from './catalog';
import { EXPORT_WRITERS, ExportWriter } from './export-format';
import type { ArchiveFilter, ExportFormat } from './log-storage.types';
import { frameStored, organizationMember, type StoredSegment } from './stored-framing';

const PAGE = 200;
/** export: catalog rows per page, stored bytes per read request (gzipped files weigh 8x), requests in flight */
const EXPORT_PAGE = 512;
const EXPORT_BATCH_BYTES = 512 * 1024;
const EXPORT_READS_IN_FLIGHT = 3;

/**
 * A piece of an export; `reusable`: the read buffer its bytes lie in, given with the buffer's last piece
 * only (see `ArchiveStore.readFramed`).
 */
interface ExportChunk {
  data: Buffer | string;
  reusable?: ArrayBuffer;
}

/** Resolves once `out` wants more (at once when it does); rejects when it closes or fails first. */
function drained(out: Writable): Promise<void> {
  if (!out.writableNeedDrain) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the export destination closed'));
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', done);
  });
}

/** The filter's conversations streamed in an export format, in (day, path) order. */
@Injectable()
export class ArchiveExporter {
  private readonly logger = new Logger(ArchiveExporter.name);

  constructor(
    private readonly files: ArchiveFiles,
    @Inject(CATALOG) private readonly catalog: Catalog,
  ) {}

  /**
   * The filter's conversations as a byte stream in the given format. JSON and NDJSON pass the stored
   * bytes through (see `storedChunks`); CSV parses each file. Arguments are checked before the stream
   * exists; destroying it stops reading files.
   */
  exportStream(filter: ArchiveFilter, format: ExportFormat = 'json'): Readable {
    const chunks = this.chunks(filter, format, []);
    async function* data(): AsyncGenerator<Buffer | string> {
      for await (const chunk of chunks) yield chunk.data;
    }
    return Readable.from(data(), { objectMode: false, highWaterMark: 64 * 1024 });
  }

  /**
   * The same export written straight to `out` (not ended), waiting whenever it is full. Arguments are
   * checked at once, before anything is written. Read buffers whose bytes `out` has taken (its write
   * callback) go back to the store to be filled again, so memory stays flat however big the export; this
   * is why the caller hands over the destination rather than taking a stream whose chunks it might keep.
   * Rejects when `out` closes or fails first.
   */
  exportTo(filter: ArchiveFilter, format: ExportFormat, out: Writable): Promise<void> {
    const spare: ArrayBuffer[] = [];
    const chunks = this.chunks(filter, format, spare);
    const run = async () => {
      for await (const chunk of chunks) {
        if (out.destroyed || out.writableEnded) throw new Error('the export destination closed');
        const buffer = chunk.reusable;
        // writes complete in order: once this one has, so have the buffer's earlier pieces
        out.write(chunk.data, buffer ? (error) => !error && spare.push(buffer) : undefined);
        await drained(out);
      }
    };
    return run();
  }

  /** Checks the arguments (throwing at once) and returns the export's chunks. */
  private chunks(filter: ArchiveFilter, format: ExportFormat, spare: ArrayBuffer[]): AsyncGenerator<ExportChunk> {
    checkFilter(filter);
    const checked = checkFormat(format);
    const writer = EXPORT_WRITERS[checked];
    if (checked === 'csv') return this.parsedChunks(filter, writer);
    return this.files.readsFramed ? this.storedChunks(filter, checked, writer, spare) : this.objectChunks(filter, checked, writer);
  }

  async exportToArray(filter: ArchiveFilter): Promise<ArchivedConversation[]> {
    checkFilter(filter);
    const out: ArchivedConversation[] = [];
    for await (const conv of this.conversations(filter)) out.push(conv);
    return out;
  }

  private async *parsedChunks(filter: ArchiveFilter, writer: ExportWriter): AsyncGenerator<ExportChunk> {
    if (writer.head) yield { data: writer.head };
    let count = 0;
    for await (const conv of this.conversations(filter)) {
      const text = writer.item(conv, count++);
      if (text) yield { data: text };
    }
    const tail = writer.tail(count);
    if (tail) yield { data: tail };
  }

  /**
   * JSON and NDJSON straight from the stored bytes: the store passes a file through only when it still has
   * the size the catalog recorded when it was validated (saved or indexed) and still starts with `{` and
   * ends with `}`. The files are pretty-printed JSON, so for NDJSON their line breaks, all between tokens,
   * become spaces. A file in the seed's format gets the `organization_id` its path names, first, as the
   * parsed export does. Any other file is read, parsed and checked here as before; gone ones are skipped.
   * Reads run a few batches ahead, in order; each takes one read buffer of `spare` along for reuse (a batch
   * fills one buffer: given them all, a thread would keep the ones it does not need while the other
   * thread, finding none, allocated more).
   */
  private async *storedChunks(
    filter: ArchiveFilter,
    mode: 'json' | 'ndjson',
    writer: ExportWriter,
    spare: ArrayBuffer[],
  ): AsyncGenerator<ExportChunk> {
    if (writer.head) yield { data: writer.head };
    let count = 0;
    const batches = this.exportBatches(filter);
    const ahead: Promise<{ rows: ExportRow[]; segments: StoredSegment[] } | null>[] = [];
    let exhausted = false;
    const fill = () => {
      while (!exhausted && ahead.length < EXPORT_READS_IN_FLIGHT) {
        const batch = batches.next().then(async (next) => {
          if (next.done) {
            exhausted = true;
            return null;
          }
          const items = next.value.map((r) => ({ path: r.path, size: r.size, insert: r.org_from_path ? organizationMember(r.organization_id) : undefined }));
          return { rows: next.value, segments: await this.files.readStored(mode, items, spare.splice(0, 1)) };
        });
        batch.catch(() => undefined);
        ahead.push(batch);
      }
    };
    fill();
    while (ahead.length) {
      const batch = await ahead.shift()!;
      if (!batch) break;
      fill();
      // a read buffer is handed out with the last of its pieces only
      const last = new Map<ArrayBuffer, StoredSegment>();
      for (const segment of batch.segments) if (segment.kind === 'bytes' && segment.reusable) last.set(segment.reusable, segment);
      for (const segment of batch.segments) {
        if (segment.kind === 'bytes') {
          // every stored item starts with its comma in JSON: the export's first one does not
          const reusable = segment.reusable && last.get(segment.reusable) === segment ? segment.reusable : undefined;
          yield { data: mode === 'json' && count === 0 ? segment.data.subarray(1) : segment.data, reusable };
          count += segment.items;
          continue;
        }
        const row = batch.rows[segment.index];
        const loaded = await this.files.load(row.path);
        if (loaded?.ok) yield { data: writer.item(loaded.conversation, count++) };
        else this.logger.warn(`Export skipped ${row.path}: ${loaded ? loaded.reason : 'file is missing'}`);
      }
    }
    const tail = writer.tail(count);
    if (tail) yield { data: tail };
  }

  /**
   * JSON and NDJSON from a store without batch reads (an object store): the same checks and framing as
   * `storedChunks`, object by object, with `readsInFlight` GETs running ahead of the one being written, in
   * order, so memory holds at most that many objects. A failure of the store ends the export with it.
   */
  private async *objectChunks(filter: ArchiveFilter, mode: 'json' | 'ndjson', writer: ExportWriter): AsyncGenerator<ExportChunk> {
    if (writer.head) yield { data: writer.head };
    let count = 0;
    const reads = this.files.readAhead(this.exportRows(filter, EXPORT_PAGE), async (row) => ({ row, stored: await this.files.readStoredBytes(row.path) }));
    for await (const { row, stored } of reads) {
      const item = { key: row.path, size: row.size, insert: row.org_from_path ? organizationMember(row.organization_id) : undefined };
      const [segment] = frameStored(mode, [item], [stored]);
      if (segment.kind === 'bytes') {
        // every framed item starts with its comma in JSON: the export's first one does not
        yield { data: mode === 'json' && count === 0 ? segment.data.subarray(1) : segment.data };
        count++;
        continue;
      }
      const loaded = await this.files.load(row.path);
      if (loaded?.ok) yield { data: writer.item(loaded.conversation, count++) };
      else this.logger.warn(`Export skipped ${row.path}: ${loaded ? loaded.reason : 'file is missing'}`);
    }
    const tail = writer.tail(count);
    if (tail) yield { data: tail };
  }

  /** The filter's catalog rows in (day, path) order, a page at a time. */
  private async *exportRows(filter: ArchiveFilter, pageSize: number): AsyncGenerator<ExportRow> {
    let after: { day: string; path: string } | null = null;
    for (;;) {
      const rows = await this.catalog.exportPage(filter, after, pageSize);
      if (!rows.length) return;
      const last: ExportRow = rows[rows.length - 1];
      after = { day: last.day, path: last.path };
      yield* rows;
    }
  }

  /** Catalog rows in (day, path) order, cut into read requests of about EXPORT_BATCH_BYTES. */
  private async *exportBatches(filter: ArchiveFilter): AsyncGenerator<ExportRow[]> {
    let after: { day: string; path: string } | null = null;
    for (;;) {
      const rows = await this.catalog.exportPage(filter, after, EXPORT_PAGE);
      if (!rows.length) return;
      const last: ExportRow = rows[rows.length - 1];
      after = { day: last.day, path: last.path };
      let batch: ExportRow[] = [];
      let bytes = 0;
      for (const row of rows) {
        const weight = row.compressed ? row.size * 8 : row.size;
        if (batch.length && bytes + weight > EXPORT_BATCH_BYTES) {
          yield batch;
          batch = [];
          bytes = 0;
        }
        batch.push(row);
        bytes += weight;
      }
      if (batch.length) yield batch;
    }
  }

  /**
   * The filter's conversations in (day, path) order; files gone or unreadable since they were catalogued
   * are skipped. The store's reads in flight run ahead of the one being written (one at a time on a disk).
   */
  private async *conversations(filter: ArchiveFilter): AsyncGenerator<ArchivedConversation> {
    const loads = this.files.readAhead(this.exportRows(filter, PAGE), async (row) => ({ row, loaded: await this.files.load(row.path) }));
    for await (const { row, loaded } of loads) {
      if (loaded?.ok) yield loaded.conversation;
      else this.logger.warn(`Export skipped ${row.path}: ${loaded ? loaded.reason : 'file is missing'}`);
    }
  }
}
