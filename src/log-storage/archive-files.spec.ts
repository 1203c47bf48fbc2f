import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ArchiveFiles } from './archive-files';
import { FsArchiveStore } from './fs/fs-archive-store';

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
}

describe(`${ArchiveFiles.name} over ${FsArchiveStore.name}`, () => {
  let root: string;
  let store: FsArchiveStore;
  let sut: ArchiveFiles;
  const file = 'conversations/acme/2024/01/16/conversation_c_2024-01-16T12-30-29-000Z.json';
  const list = (rel: string) => fs.readdirSync(path.join(root, rel));

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'files-repo-'));
    store = new FsArchiveStore(root);
    sut = new ArchiveFiles(store);
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('writes atomically, creating folders, and reports size and sha256', async () => {
    const written = await sut.writeAtomic(file, '{"a":1}');
    expect(written).toEqual({ size: 7, sha256: '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862', md5: 'bb6cb5c68df4652941caf652a366f2d8' });
    expect(fs.readFileSync(path.join(root, file), 'utf8')).toBe('{"a":1}');
    expect(list('conversations/acme/2024/01/16')).toEqual([path.basename(file)]);
    const { md5: _md5, ...hashed } = written;
    expect(await sut.read(file)).toEqual({ text: '{"a":1}', ...hashed });
    expect(await sut.hash(file)).toEqual(hashed);
  });

  it('stores .gz paths gzipped and reads them back as text', async () => {
    await sut.writeAtomic(`${file}.gz`, 'hello');
    expect(zlib.gunzipSync(fs.readFileSync(path.join(root, `${file}.gz`))).toString()).toBe('hello');
    expect((await sut.read(`${file}.gz`))?.text).toBe('hello');
  });

  it('leaves the old file intact and no tmp file when the disk is full', async () => {
    await sut.writeAtomic(file, 'old');
    const realOpen = fs.promises.open;
    jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof fs.promises.open>) => {
      const handle = await realOpen(...args);
      handle.writeFile = async () => {
        await realOpen(args[0], 'a').then(async (h) => {
          await h.write('partial');
          await h.close();
        });
        throw enospc();
      };
      return handle;
    });
    await expect(sut.writeAtomic(file, 'new')).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(fs.readFileSync(path.join(root, file), 'utf8')).toBe('old');
    expect(list('conversations/acme/2024/01/16')).toEqual([path.basename(file)]);
  });

  it('removes the tmp file when the rename fails', async () => {
    await sut.writeAtomic(file, 'old');
    jest.spyOn(fs.promises, 'rename').mockRejectedValueOnce(enospc());
    await expect(sut.writeAtomic(file, 'new')).rejects.toThrow('ENOSPC');
    expect(list('conversations/acme/2024/01/16')).toEqual([path.basename(file)]);
    expect(fs.readFileSync(path.join(root, file), 'utf8')).toBe('old');
  });

  it('refuses paths that leave the root', async () => {
    await expect(sut.writeAtomic('../outside.json', 'x')).rejects.toThrow('path escapes the archive root');
    await expect(sut.read('conversations/../../x')).rejects.toThrow('path escapes the archive root');
    expect(() => store.absolute('a/../../b')).toThrow('path escapes the archive root');
  });

  it('answers null for missing files and removes quietly', async () => {
    expect(await sut.read(file)).toBeNull();
    expect(await sut.hash(file)).toBeNull();
    expect(await sut.exists(file)).toBe(false);
    await expect(sut.remove(file)).resolves.toBeUndefined();
  });

  it('walks every file except leftover tmp files', async () => {
    await sut.writeAtomic(file, 'a');
    await sut.writeAtomic('conversations/2024/01/17/conversation_d_2024-01-17T00-00-00-000Z.json.gz', 'b');
    fs.writeFileSync(path.join(root, `${file}.1.abcd.tmp`), 'half');
    fs.writeFileSync(path.join(root, 'catalog.sqlite'), 'not walked');
    const found: string[] = [];
    for await (const f of sut.walk()) found.push(f.path);
    expect(found.sort()).toEqual(['conversations/2024/01/17/conversation_d_2024-01-17T00-00-00-000Z.json.gz', file]);
  });

  it('finds day folders with and without organization, also an organization named like a year', async () => {
    for (const dir of ['conversations/acme/2024/01/16', 'conversations/2023/12/31', 'conversations/2024/2024/02/01', 'conversations/acme/notes']) {
      fs.mkdirSync(path.join(root, dir), { recursive: true });
    }
    const all = [];
    for await (const d of sut.dayFolders()) all.push(d);
    expect(all).toEqual([
      { dir: 'conversations/2023/12/31', organization_id: null, day: '2023-12-31' },
      { dir: 'conversations/2024/2024/02/01', organization_id: '2024', day: '2024-02-01' },
      { dir: 'conversations/acme/2024/01/16', organization_id: 'acme', day: '2024-01-16' },
    ]);
    const acme = [];
    for await (const d of sut.dayFolders('acme')) acme.push(d.dir);
    expect(acme).toEqual(['conversations/acme/2024/01/16']);
  });

  it('removes day folders and prunes empty parents up to conversations/, stopping at the first non-empty one', async () => {
    fs.mkdirSync(path.join(root, 'conversations/acme/2024/01/16'), { recursive: true });
    fs.mkdirSync(path.join(root, 'conversations/acme/2023/12/31'), { recursive: true });
    await sut.tallyDirs([{ dir: 'conversations/acme/2024/01/16', expected: 0 }], true);
    expect(fs.readdirSync(path.join(root, 'conversations/acme'))).toEqual(['2023']);
    await sut.tallyDirs([{ dir: 'conversations/acme/2023/12/31', expected: 0 }], true);
    expect(fs.existsSync(path.join(root, 'conversations/acme'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'conversations'))).toBe(true);
  });
});
