import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FsArchiveStore } from '../../src/log-storage/fs/fs-archive-store';
import { describeArchiveStoreContract } from './archive-store.contract';

jest.setTimeout(60_000);

describeArchiveStoreContract(FsArchiveStore.name, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-store-contract-'));
  const store = new FsArchiveStore(root);
  return {
    store,
    dispose: async () => {
      await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
});

describe(`${FsArchiveStore.name} on disk`, () => {
  let root: string;
  let sut: FsArchiveStore;
  const day = 'conversations/acme/2024/01/16';

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-store-'));
    sut = new FsArchiveStore(root);
  });
  afterEach(async () => {
    await sut.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('keeps the layout: a key is a file path under the root', async () => {
    await sut.put(`${day}/a.json`, Buffer.from('{}'));
    expect(fs.readFileSync(path.join(root, day, 'a.json'), 'utf8')).toBe('{}');
  });

  it('hides temp files from listings and removes those of dead writers at recovery', async () => {
    await sut.put(`${day}/a.json`, Buffer.from('{}'));
    const dead = path.join(root, day, 'a.json.999999999.abcd1234.tmp');
    const live = path.join(root, day, `a.json.${process.pid}.abcd1234.tmp`);
    fs.writeFileSync(dead, 'half');
    fs.writeFileSync(live, 'being written');
    const listed: string[] = [];
    for await (const o of sut.list('conversations/')) listed.push(o.key);
    expect(listed).toEqual([`${day}/a.json`]);
    expect(await sut.removeAbandoned('conversations/')).toEqual([`${day}/a.json.999999999.abcd1234.tmp`]);
    expect(fs.existsSync(dead)).toBe(false);
    expect(fs.existsSync(live)).toBe(true);
  });

  it('lists keys without sizes in the order of the sized listing, temp files hidden', async () => {
    for (const key of [`${day}/b.json`, `${day}/a.json`, 'conversations/acme/2024/01/2/c.json', 'conversations/2023/12/31/d.json', 'conversations/acme-x/e.json']) {
      await sut.put(key, Buffer.from('{}'));
    }
    fs.writeFileSync(path.join(root, day, 'a.json.999999999.abcd1234.tmp'), 'half');
    const sized: string[] = [];
    for await (const o of sut.list('conversations/')) sized.push(o.key);
    const keys: string[] = [];
    for await (const key of sut.listKeys('conversations/')) keys.push(key);
    expect(keys).toEqual(sized);
    expect(keys).toHaveLength(5);
    const under: string[] = [];
    for await (const key of sut.listKeys(`${day}/`)) under.push(key);
    expect(under).toEqual([`${day}/a.json`, `${day}/b.json`]);
    await expect(sut.listKeys('../').next()).rejects.toThrow();
  });

  it('removes folders left empty by a folder deletion, keeping the first segment', async () => {
    await sut.put(`${day}/a.json`, Buffer.from('{}'));
    await sut.put('conversations/acme/2023/12/31/b.json', Buffer.from('{}'));
    await sut.deletePrefix(`${day}/`);
    expect(fs.readdirSync(path.join(root, 'conversations/acme'))).toEqual(['2023']);
    await sut.deletePrefix('conversations/acme/2023/12/31/');
    expect(fs.existsSync(path.join(root, 'conversations/acme'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'conversations'))).toBe(true);
  });
});
