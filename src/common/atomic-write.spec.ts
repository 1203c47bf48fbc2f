import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAbandonedTemp } from './process-liveness';
import { tempPathFor, writeFileAtomic } from './atomic-write';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
}

describe(writeFileAtomic.name, () => {
  let dir: string;
  const target = () => path.join(dir, 'a', 'b', 'file.json');

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-write-'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the folders and writes text or bytes, fsync included', async () => {
    let synced = 0;
    const realOpen = fs.promises.open;
    jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
      const handle = await realOpen(...args);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        synced++;
        await sync();
      };
      return handle;
    });
    await writeFileAtomic(target(), '{"a":1}');
    expect(fs.readFileSync(target(), 'utf8')).toBe('{"a":1}');
    await writeFileAtomic(target(), Buffer.from([1, 2, 3]));
    expect([...fs.readFileSync(target())]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(path.dirname(target()))).toEqual(['file.json']);
    expect(synced).toBe(2);
  });

  it('gives the file the requested mode', async () => {
    await writeFileAtomic(target(), 'x', { mode: 0o600 });
    expect(fs.statSync(target()).mode & 0o777).toBe(0o600 & ~process.umask());
  });

  it('keeps the previous file and leaves no temp file when the bytes cannot be written', async () => {
    await writeFileAtomic(target(), 'old');
    const failing = writeFileAtomic(target(), 'new content', {
      writeBytes: async (handle, data) => {
        await handle.write(data.subarray(0, 3));
        throw enospc();
      },
    });
    await expect(failing).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(fs.readFileSync(target(), 'utf8')).toBe('old');
    expect(fs.readdirSync(path.dirname(target()))).toEqual(['file.json']);
  });

  it('removes the temp file when the rename fails', async () => {
    await writeFileAtomic(target(), 'old');
    jest.spyOn(fs.promises, 'rename').mockRejectedValueOnce(enospc());
    await expect(writeFileAtomic(target(), 'new')).rejects.toThrow('ENOSPC');
    expect(fs.readdirSync(path.dirname(target()))).toEqual(['file.json']);
    expect(fs.readFileSync(target(), 'utf8')).toBe('old');
  });

  it('names temp files so that start-up cleaning recognises those of a dead writer', () => {
    const tmp = tempPathFor('/x/file.json');
    expect(tmp).toMatch(new RegExp(`^/x/file\\.json\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
    expect(isAbandonedTemp(path.basename(tmp), Date.now())).toBe(false);
    expect(isAbandonedTemp('file.json.999999999.abcd1234.tmp', Date.now())).toBe(true);
  });
});
