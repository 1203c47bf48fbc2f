import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveQueryDto } from '../conversation-logs/dto/archive-query.dto';
import { withUtf8Bom } from '../log-storage/export-format';
import { LogStorageService } from '../log-storage/log-storage.service';
import { DAY_RANGE_FLAGS, definedOnly, FILTER_FLAGS } from './archive-flags';
import { CliCommand, CliFlag, CliOutput, EXIT, stringOption } from './cli-command';
import { validateFlags } from './cli-flags';
import { formatBytes, TerminalProgress, withInterruptHandler } from './progress';

const EXPORT_FLAGS: Record<string, CliFlag> = {
  'start-date': { ...DAY_RANGE_FLAGS['start-date'], description: 'first day folder (inclusive); required', required: true },
  'end-date': { ...DAY_RANGE_FLAGS['end-date'], description: 'last day folder (inclusive); required', required: true },
  format: { type: 'string', value: 'json|ndjson|csv', description: 'json (default): {success, conversations, count}; ndjson: one conversation a line; csv: one row a message', field: 'format' },
  ...FILTER_FLAGS,
  keyword: { type: 'string', value: 'WORDS', description: 'full text over names, queries and answers (every word must occur)', field: 'keyword' },
  bom: { type: 'boolean', description: 'csv only: start with a UTF-8 byte order mark (for Excel)', field: 'bom' },
  out: { type: 'string', value: 'FILE', description: 'write to FILE (complete or not at all) instead of stdout' },
};

/** `export`: the API's export, streamed to stdout or to a file. */
export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'stream the conversations of a range of day folders as json, ndjson or csv, to stdout or --out FILE',
  flags: EXPORT_FLAGS,
  examples: [
    'npm run cli -- export --start-date 2024-01-01 --end-date 2024-01-31 --format ndjson > january.ndjson',
    'npm run cli -- export --start-date 2024-01-01 --end-date 2024-01-31 --format csv --bom --app support-bot --out january.csv',
  ],
  async run({ app: context, options, out }) {
    const query = validateFlags(ArchiveQueryDto, options, EXPORT_FLAGS, { action: 'export' });
    const { format = 'json', bom = false, ...rest } = query;
    const { action: _action, download: _download, ...filter } = rest;
    const app = await context();
    const source = app.get(LogStorageService).exportStream(definedOnly(filter), format);
    const stream = bom ? withUtf8Bom(source) : source;
    const file = stringOption(options, 'out');
    return file ? exportToFile(stream, path.resolve(file), format, out) : exportToStdout(stream, out);
  },
};

async function exportToStdout(stream: Readable, out: CliOutput): Promise<number> {
  const dest = out.stream ?? process.stdout;
  const result = await copy(stream, dest, out);
  if (result === 'interrupted') {
    out.error('interrupted: the export stopped; what was written so far is incomplete');
    return EXIT.interrupted;
  }
  // EPIPE: the reader went away (`| head`), which is its choice, not a failure
  if (result instanceof Error && (result as NodeJS.ErrnoException).code !== 'EPIPE') {
    out.error(`failed: ${result.message}`);
    return EXIT.failed;
  }
  return EXIT.done;
}

/** Writes next to FILE and renames when complete, so FILE is never half an export. */
async function exportToFile(stream: Readable, file: string, format: string, out: CliOutput): Promise<number> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const dest = fs.createWriteStream(temp, { flags: 'wx' });
  try {
    await once(dest, 'open');
    const result = await copy(stream, dest, out);
    if (result === 'interrupted') {
      out.error(`interrupted: the export stopped; ${file} was not written`);
      return EXIT.interrupted;
    }
    if (result instanceof Error) throw result;
    await new Promise<void>((resolve, reject) => dest.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await fs.promises.rename(temp, file);
    out.line(`wrote ${result} bytes of ${format} to ${file}`);
    return EXIT.done;
  } catch (error) {
    out.error(`failed: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    dest.destroy();
    await fs.promises.unlink(temp).catch(() => undefined);
  }
}

/** Copies with back-pressure; the byte count, 'interrupted' on SIGINT/SIGTERM, or the write error. */
async function copy(stream: Readable, dest: NodeJS.WritableStream, out: CliOutput): Promise<number | 'interrupted' | Error> {
  const progress = new TerminalProgress(out.terminal);
  const stop = new AbortController();
  let failure: Error | null = null;
  const onError = (error: Error) => {
    failure = error;
    stop.abort();
  };
  dest.on('error', onError);
  let bytes = 0;
  try {
    return await withInterruptHandler(
      () => stop.abort(),
      async () => {
        try {
          for await (const chunk of stream) {
            if (stop.signal.aborted) break;
            bytes += (chunk as Buffer).length;
            if (!dest.write(chunk)) await once(dest as unknown as NodeJS.EventEmitter, 'drain', { signal: stop.signal });
            if (progress.active) progress.update(null, `exported ${formatBytes(bytes)} (${formatBytes(progress.perSecond(bytes))}/s)`);
          }
        } catch (error) {
          if (!stop.signal.aborted) throw error;
        }
        if (failure) return failure;
        return stop.signal.aborted ? 'interrupted' : bytes;
      },
    );
  } finally {
    stream.destroy();
    dest.off('error', onError);
    progress.clear();
  }
}
