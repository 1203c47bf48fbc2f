import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import type { ArchiveObject, ArchiveStore } from '../../src/log-storage/archive-store';
import { frameStored } from '../../src/log-storage/stored-framing';

/** A store under test and how to get rid of it afterwards. */
export interface ArchiveStoreSubject {
  store: ArchiveStore;
  dispose(): Promise<void>;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const DAY = 'conversations/acme/2024/01/16/';

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * What every `ArchiveStore` promises, whatever keeps the bytes. An implementation proves itself by running
 * this suite: `describeArchiveStoreContract('S3ArchiveStore', async () => ({ store, dispose }))`.
 */
export function describeArchiveStoreContract(name: string, create: () => Promise<ArchiveStoreSubject>): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let subject: ArchiveStoreSubject;
    let sut: ArchiveStore;

    beforeEach(async () => {
      subject = await create();
      sut = subject.store;
    });
    afterEach(async () => {
      await subject.dispose();
    });

    it('puts bytes and gets them back, with their size and sha256; a missing key is null', async () => {
      const data = Buffer.from('{"a":1}');
      expect(await sut.put(`${DAY}a.json`, data)).toEqual({ size: 7, sha256: sha256(data), md5: createHash('md5').update(data).digest('hex') });
      expect(await sut.get(`${DAY}a.json`)).toEqual(data);
      expect(await sut.get(`${DAY}missing.json`)).toBeNull();
      expect(await sut.stat(`${DAY}missing.json`)).toBeNull();
      expect(await sut.createReadStream(`${DAY}missing.json`)).toBeNull();
    });

    it('overwrites an object in place', async () => {
      await sut.put(`${DAY}a.json`, Buffer.from('first version'));
      await sut.put(`${DAY}a.json`, Buffer.from('second'));
      expect((await sut.get(`${DAY}a.json`))?.toString()).toBe('second');
      expect((await collect(sut.list(DAY))).map((o) => o.key)).toEqual([`${DAY}a.json`]);
    });

    it('never shows a reader part of an object while it is being replaced', async () => {
      const key = `${DAY}big.json`;
      const versions = ['a', 'b', 'c', 'd'].map((c) => Buffer.alloc(256 * 1024, c));
      await sut.put(key, versions[0]);
      const seen = new Set<string>();
      for (let round = 0; round < 8; round++) {
        const reads = Array.from({ length: 4 }, () => sut.get(key));
        const writes = versions.map((v) => sut.put(key, v));
        const [got] = await Promise.all([Promise.all(reads), Promise.all(writes)]);
        for (const bytes of got) {
          expect(bytes).not.toBeNull();
          expect(bytes!.length).toBe(256 * 1024);
          const first = bytes![0];
          expect(bytes!.every((b) => b === first)).toBe(true);
          seen.add(String.fromCharCode(first));
        }
      }
      expect(seen.size).toBeGreaterThan(0);
      expect((await collect(sut.list(DAY))).map((o) => o.key)).toEqual([key]);
    });

    it('stats an object and streams it whole or by range', async () => {
      await sut.put(`${DAY}a.json`, Buffer.from('0123456789'));
      const stat = await sut.stat(`${DAY}a.json`);
      expect(stat).toMatchObject({ key: `${DAY}a.json`, size: 10 });
      expect(Number.isFinite(stat!.mtime.getTime())).toBe(true);
      expect((await readAll((await sut.createReadStream(`${DAY}a.json`))!)).toString()).toBe('0123456789');
      expect((await readAll((await sut.createReadStream(`${DAY}a.json`, { start: 2, end: 5 }))!)).toString()).toBe('2345');
      expect((await readAll((await sut.createReadStream(`${DAY}a.json`, { start: 7 }))!)).toString()).toBe('789');
      expect(await sut.stat('conversations/acme/2024/01/16')).toBeNull();
    });

    it('lists by key prefix, in key order, resuming after a key', async () => {
      const keys = [
        'conversations/acme/2024/01/16/b.json',
        'conversations/acme/2024/01/16/a.json',
        'conversations/acme/2024/01/17/c.json.gz',
        'conversations/acme-2/2024/01/16/d.json',
        'conversations/acme.json',
        'conversations/globex/2023/12/31/e.json',
        'other/f.json',
      ];
      for (const key of keys) await sut.put(key, Buffer.from(key));
      const all = await collect(sut.list('conversations/'));
      expect(all.map((o) => o.key)).toEqual([...keys.slice(0, 6)].sort());
      expect(all.find((o) => o.key === 'conversations/acme.json')).toMatchObject({ size: 'conversations/acme.json'.length });
      expect((await collect(sut.list('conversations/acme/'))).map((o) => o.key)).toEqual([
        'conversations/acme/2024/01/16/a.json',
        'conversations/acme/2024/01/16/b.json',
        'conversations/acme/2024/01/17/c.json.gz',
      ]);
      expect((await collect(sut.list('conversations/acme'))).map((o) => o.key)).toEqual([
        'conversations/acme-2/2024/01/16/d.json',
        'conversations/acme.json',
        'conversations/acme/2024/01/16/a.json',
        'conversations/acme/2024/01/16/b.json',
        'conversations/acme/2024/01/17/c.json.gz',
      ]);
      const resumed = await collect(sut.list('conversations/', { startAfter: 'conversations/acme/2024/01/16/a.json' }));
      expect(resumed.map((o) => o.key)).toEqual(all.map((o) => o.key).filter((k) => k > 'conversations/acme/2024/01/16/a.json'));
      expect(await collect(sut.list('nothing/'))).toEqual([]);
    });

    it('lists a long folder completely, one object at a time', async () => {
      const keys = Array.from({ length: 300 }, (_, i) => `${DAY}conversation_${String(i).padStart(4, '0')}.json`);
      for (let i = 0; i < keys.length; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => sut.put(k, Buffer.from('{}'))));
      let count = 0;
      let previous = '';
      for await (const object of sut.list(DAY) as AsyncIterable<ArchiveObject>) {
        expect(object.key > previous).toBe(true);
        previous = object.key;
        count++;
      }
      expect(count).toBe(300);
    });

    it('lists the folders directly under a folder', async () => {
      for (const key of ['conversations/acme/2024/01/16/a.json', 'conversations/2023/12/31/b.json', 'conversations/top.json']) {
        await sut.put(key, Buffer.from('{}'));
      }
      expect(await sut.listFolders('conversations/')).toEqual(['2023', 'acme']);
      expect(await sut.listFolders('conversations/acme/2024/')).toEqual(['01']);
      expect(await sut.listFolders('conversations/none/')).toEqual([]);
      await expect(sut.listFolders('conversations')).rejects.toThrow('a folder key ends with "/"');
    });

    it('deletes many keys in batches (more than one DeleteObjects takes); a missing key is fine and counts as gone', async () => {
      const keys = Array.from({ length: 1050 }, (_, i) => `${DAY}k${String(i).padStart(4, '0')}.json`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => sut.put(k, Buffer.from('x'))));
      expect(await sut.delete([...keys.slice(0, 1020), `${DAY}missing.json`])).toBe(1021);
      expect((await collect(sut.list(DAY))).map((o) => o.key)).toEqual(keys.slice(1020));
      expect(await sut.delete([])).toBe(0);
      await expect(sut.delete([`${DAY}k0.json`, '../outside.json'])).rejects.toThrow();
      expect((await collect(sut.list(DAY))).length).toBe(30);
    });

    it('deletes everything under a folder and nothing beside it', async () => {
      await sut.put('conversations/acme/2024/01/16/a.json', Buffer.from('aaaa'));
      await sut.put('conversations/acme/2024/01/16/b.json', Buffer.from('bb'));
      await sut.put('conversations/acme/2024/01/16x/c.json', Buffer.from('c'));
      await sut.put('conversations/acme/2024/02/01/d.json', Buffer.from('d'));
      expect(await sut.deletePrefix('conversations/acme/2024/01/16/')).toMatchObject({ objects: 2 });
      expect((await collect(sut.list('conversations/'))).map((o) => o.key)).toEqual([
        'conversations/acme/2024/01/16x/c.json',
        'conversations/acme/2024/02/01/d.json',
      ]);
      expect(await sut.listFolders('conversations/acme/2024/01/')).toEqual(['16x']);
      expect(await sut.deletePrefix('conversations/none/')).toMatchObject({ objects: 0 });
      await expect(sut.deletePrefix('conversations/acme')).rejects.toThrow('a folder key ends with "/"');
    });

    it('tallies folders, sizing only when the count is not the expected one, and removes them on request', async () => {
      await sut.put(`${DAY}a.json`, Buffer.from('aaaa'));
      await sut.put(`${DAY}b.json`, Buffer.from('bb'));
      const folders = [{ folder: DAY, expected: 2 }, { folder: 'conversations/acme/2024/01/17/', expected: 0 }];
      expect(await sut.tallyFolders(folders, false)).toEqual([{ objects: 2, bytes: null }, { objects: 0, bytes: null }]);
      expect(await sut.tallyFolders([{ folder: DAY, expected: 5 }], false)).toEqual([{ objects: 2, bytes: 6 }]);
      expect(await sut.tallyFolders(folders, true)).toEqual([{ objects: 2, bytes: null }, { objects: 0, bytes: null }]);
      expect(await collect(sut.list('conversations/'))).toEqual([]);
      expect(await sut.listFolders('conversations/')).toEqual([]);
    });

    it('frames stored objects for an export as reading them one by one would', async () => {
      const pretty = Buffer.from('{\n  "a": "x\\ny"\n}');
      await sut.put(`${DAY}a.json`, pretty);
      await sut.put(`${DAY}b.json.gz`, zlib.gzipSync(Buffer.from('{\n  "b": 2\n}')));
      await sut.put(`${DAY}c.json`, Buffer.from('[1]'));
      const items = [
        { key: `${DAY}a.json`, size: pretty.length },
        { key: `${DAY}b.json.gz`, size: (await sut.stat(`${DAY}b.json.gz`))!.size },
        { key: `${DAY}c.json`, size: 3 },
        { key: `${DAY}gone.json`, size: 2 },
        { key: `${DAY}a.json`, size: pretty.length + 1 },
      ];
      const stored = await Promise.all(items.map((i) => sut.get(i.key)));
      for (const mode of ['json', 'ndjson'] as const) {
        const expected = frameStored(mode, items, stored);
        const got = sut.readFramed ? await sut.readFramed(mode, items) : expected;
        // runs of passed objects may be cut differently; their bytes and the checks in between may not
        const text = (segments: typeof got) =>
          segments
            .map((s) => (s.kind === 'bytes' ? `${s.data.toString()}` : `\u0000check:${s.index}\u0000`))
            .join('')
            .split('\u0000');
        expect(text(got)).toEqual(text(expected));
      }
      expect(frameStored('ndjson', items, stored).map((s) => (s.kind === 'bytes' ? s.data.toString() : s.index))).toEqual([
        '{   "a": "x\\ny" }\n{   "b": 2 }\n',
        2,
        3,
        4,
      ]);
    });

    it('has nothing to recover in a store that was never interrupted', async () => {
      await sut.put(`${DAY}a.json`, Buffer.from('{}'));
      expect(await sut.removeAbandoned('conversations/')).toEqual([]);
      expect(await sut.get(`${DAY}a.json`)).not.toBeNull();
    });

    it('refuses keys that leave the archive', async () => {
      for (const key of ['../outside.json', 'conversations/../../x.json', '/etc/passwd', 'conversations//a.json', 'a\\b.json']) {
        await expect(sut.put(key, Buffer.from('x'))).rejects.toThrow('path escapes the archive root');
        await expect(sut.get(key)).rejects.toThrow('path escapes the archive root');
      }
    });
  });
}
