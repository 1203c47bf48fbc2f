import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ArchiveFiles } from '../archive-files';
import { ArchiveIoWorker, threadEntry } from './archive-io-worker';
import { FsArchiveStore } from './fs-archive-store';

describe('FsArchiveStore bulk work in the worker thread', () => {
  let root: string;
  let store: FsArchiveStore;
  let sut: ArchiveFiles;
  const dir = 'conversations/acme/2024/01/16';
  const write = (name: string, data: string | Buffer) => {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.writeFileSync(path.join(root, dir, name), data);
    return { path: `${dir}/${name}`, size: Buffer.byteLength(data) };
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'files-worker-'));
    store = new FsArchiveStore(root);
    sut = new ArchiveFiles(store);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('adds the organization of a seed-format file right after its brace, plain and gzipped', async () => {
    const plain = { ...write('s.json', '{\n  "conversation_id": "s"\n}'), insert: '"organization_id":"acme",' };
    const gz = { ...write('t.json.gz', zlib.gzipSync('{"conversation_id":"t"}')), insert: '"organization_id":null,' };
    const ndjson = await sut.readStored('ndjson', [plain, gz]);
    const text = ndjson.map((s) => (s.kind === 'bytes' ? s.data.toString() : '')).join('');
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l))).toEqual([
      { organization_id: 'acme', conversation_id: 's' },
      { organization_id: null, conversation_id: 't' },
    ]);
    const json = await sut.readStored('json', [plain]);
    expect(JSON.parse(`[${json.map((s) => (s.kind === 'bytes' ? s.data.toString() : '')).join('').slice(1)}]`)).toEqual([
      { organization_id: 'acme', conversation_id: 's' },
    ]);
  });

  it('counts the files under a folder without listing them, leaving temp files out', async () => {
    write('a.json', '{}');
    write('b.json.gz', 'x');
    write('c.json.1234.tmp', 'x');
    fs.mkdirSync(path.join(root, 'conversations/2024/01/16'), { recursive: true });
    fs.writeFileSync(path.join(root, 'conversations/2024/01/16/d.json'), '{}');
    expect(await store.countObjects('conversations/')).toBe(3);
    expect(await store.countObjects('conversations/nothing/')).toBe(0);
  });

  it('fills a read buffer handed back instead of allocating another', async () => {
    const a = write('a.json', '{"a": 1}');
    const first = await sut.readStored('ndjson', [a]);
    const buffer = first[0].kind === 'bytes' ? first[0].reusable : undefined;
    expect(buffer).toBeInstanceOf(ArrayBuffer);
    const b = write('b.json', '{"b": 2}');
    const second = await sut.readStored('ndjson', [b], [buffer!]);
    // the buffer moved to the thread (detached here) and came back holding the new bytes
    expect(buffer!.byteLength).toBe(0);
    expect(second[0].kind === 'bytes' && second[0].data.toString()).toBe('{"b": 2}\n');
    expect(second[0].kind === 'bytes' && second[0].data.buffer.byteLength).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('sizes a new read buffer to the next power of two, so that a slightly bigger request fits it when handed back', async () => {
    const big = (name: string, bytes: number) => write(name, `{"x": "${'y'.repeat(bytes - 9)}"}`);
    const first = await sut.readStored('ndjson', [big('a.json', 1_500_000)]);
    const buffer = first[0].kind === 'bytes' ? first[0].reusable : undefined;
    expect(buffer?.byteLength).toBe(2 * 1024 * 1024);
    const second = await sut.readStored('ndjson', [big('b.json', 1_900_000)], [buffer!]);
    expect(second[0].kind === 'bytes' && second[0].data.buffer.byteLength).toBe(2 * 1024 * 1024);
    expect(second[0].kind === 'bytes' && second[0].data.length).toBe(1_900_001);
  });

  it('frames stored files for NDJSON and JSON, and sends back whatever fails a check', async () => {
    const a = write('a.json', '{\n  "a": "x\\ny"\r\n}');
    const gz = { ...write('b.json.gz', zlib.gzipSync('{\n  "b": 2\n}')) };
    const changed = { ...write('c.json', '{"c": 3}'), size: 99 };
    const garbage = write('d.json', '[1, 2, 3]');
    const badGz = write('e.json.gz', 'not gzip');
    const missing = { path: `${dir}/gone.json`, size: 10 };
    const last = write('f.json', '{}');
    const items = [a, gz, changed, garbage, badGz, missing, last];
    const ndjson = await sut.readStored('ndjson', items);
    expect(ndjson.map((s) => (s.kind === 'bytes' ? [s.data.toString(), s.items] : s.index))).toEqual([
      ['{   "a": "x\\ny"  }\n', 1],
      ['{   "b": 2 }\n', 1],
      2,
      3,
      4,
      5,
      ['{}\n', 1],
    ]);
    const json = await sut.readStored('json', [a, last, gz]);
    expect(json.map((s) => (s.kind === 'bytes' ? [s.data.toString(), s.items] : s.index))).toEqual([
      [',{\n  "a": "x\\ny"\r\n},{}', 2],
      [',{\n  "b": 2\n}', 1],
    ]);
  });

  it('counts day folders, sizing the files only when the count is not the expected one, and removes them', async () => {
    write('a.json', 'aaaa');
    write('b.json', 'bb');
    fs.mkdirSync(path.join(root, dir, 'nested'));
    fs.writeFileSync(path.join(root, dir, 'nested', 'x'), 'x');
    const folders = [{ dir, expected: 2 }, { dir: 'conversations/acme/2024/01/17', expected: 0 }];
    expect(await sut.tallyDirs(folders, false)).toEqual([{ files: 2, bytes: null }, { files: 0, bytes: null }]);
    expect(await sut.tallyDirs([{ dir, expected: 5 }], false)).toEqual([{ files: 2, bytes: 6 }]);
    expect(fs.existsSync(path.join(root, dir, 'a.json'))).toBe(true);
    expect(await sut.tallyDirs(folders, true)).toEqual([{ files: 2, bytes: null }, { files: 0, bytes: null }]);
    expect(fs.existsSync(path.join(root, dir))).toBe(false);
    // the parents left empty go too, up to the first segment
    expect(fs.existsSync(path.join(root, 'conversations/acme'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'conversations'))).toBe(true);
  });

  it('reports a failure with its code and keeps working afterwards', async () => {
    write('a.json', '{}');
    await expect(sut.tallyDirs([{ dir: '../outside', expected: 0 }], true)).rejects.toThrow('path escapes the archive root');
    const notADir = write('file.json', '{}');
    await expect(sut.tallyDirs([{ dir: notADir.path, expected: 0 }], false)).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(await sut.readStored('ndjson', [{ path: `${dir}/a.json`, size: 2 }])).toEqual([
      { kind: 'bytes', data: Buffer.from('{}\n'), items: 1, reusable: expect.any(ArrayBuffer) },
    ]);
  });

  describe('folders shared out between threads', () => {
    let io: ArchiveIoWorker;
    const folder = (i: number, files: number) => {
      const d = path.join(root, `day-${i}`);
      fs.mkdirSync(d);
      for (let f = 0; f < files; f++) fs.writeFileSync(path.join(d, `${f}.json`), 'x'.repeat(f + 1));
      return d;
    };
    beforeEach(() => (io = new ArchiveIoWorker(3)));
    afterEach(() => io.close());

    it('answers each folder in the order asked, whichever thread removed it', async () => {
      const dirs = [0, 1, 2, 3, 4, 5, 6].map((i) => (i === 3 ? path.join(root, 'gone') : folder(i, i)));
      const expected = dirs.map((dir, i) => ({ dir, expected: i === 5 ? 99 : i }));
      expect(await io.tallyDirs(expected, true)).toEqual([
        { files: 0, bytes: null },
        { files: 1, bytes: null },
        { files: 2, bytes: null },
        { files: 0, bytes: null },
        { files: 4, bytes: null },
        { files: 5, bytes: 15 },
        { files: 6, bytes: null },
      ]);
      expect(dirs.filter((d) => fs.existsSync(d))).toEqual([]);
      expect(await io.tallyDirs([], true)).toEqual([]);
    });

    it('reports a failure only once every thread is done with its share', async () => {
      const notADir = path.join(root, 'file');
      fs.writeFileSync(notADir, '{}');
      const dirs = [notADir, ...[1, 2, 3, 4, 5].map((i) => folder(i, 200))];
      await expect(io.tallyDirs(dirs.map((dir) => ({ dir, expected: 200 })), true)).rejects.toMatchObject({ code: 'ENOTDIR' });
      // the other threads' folders are gone by then; the failing thread stopped at its first folder
      expect(dirs.filter((d) => fs.existsSync(d))).toEqual([notADir, dirs[3]]);
    });
  });

  it('runs the thread from its .ts sources, transpiled once, when no compiled .js lies beside it (ts-jest)', () => {
    const entry = threadEntry();
    expect(entry).toMatch(/archive-io-thread-[0-9a-f]{16}[\\/]fs[\\/]archive-io\.thread\.js$/);
    expect(fs.existsSync(path.join(path.dirname(entry), '..', 'stored-framing.js'))).toBe(true);
    expect(threadEntry()).toBe(entry);
  });
});
