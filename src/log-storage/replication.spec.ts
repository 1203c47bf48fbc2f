import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArchiveObject, ArchiveStore } from './archive-store';
import { FsArchiveStore } from './fs/fs-archive-store';
import { replicate, ReplicationAbortedError, ReplicationDeleteRefusedError } from './replication';

const key = (n: number) => `conversations/acme/2024/01/${String(n).padStart(2, '0')}/conversation_${n}_20240101T000000Z.json`;

/** The real filesystem store, listed with an ETag that is not the MD5 of the bytes (as with SSE-KMS). */
function withForeignEtags(store: FsArchiveStore): ArchiveStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'list') {
        return async function* (prefix: string): AsyncGenerator<ArchiveObject> {
          for await (const o of target.list(prefix)) yield { ...o, etag: '0123456789abcdef0123456789abcdef' };
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe(replicate.name, () => {
  let sourceDir: string;
  let targetDir: string;
  let source: FsArchiveStore;
  let target: FsArchiveStore;
  const put = async (store: FsArchiveStore, keys: string[]) => {
    for (const k of keys) await store.put(k, Buffer.from(JSON.stringify({ key: k })));
  };
  const targetKeys = async () => {
    const keys: string[] = [];
    for await (const o of target.list('conversations/')) keys.push(o.key);
    return keys;
  };

  beforeEach(() => {
    sourceDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-repl-src-'));
    targetDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-repl-dst-'));
    source = new FsArchiveStore(sourceDir);
    target = new FsArchiveStore(targetDir);
  });
  afterEach(async () => {
    await source.close();
    await target.close();
    fs.rmSync(sourceDir, { recursive: true, force: true });
    fs.rmSync(targetDir, { recursive: true, force: true });
  });

  it('refuses to delete anything when the source is empty and the target is not, even when forced', async () => {
    await put(target, [key(1), key(2)]);

    const sut = replicate(source, target, { delete: true, forceDelete: true });

    await expect(sut).rejects.toThrow(ReplicationDeleteRefusedError);
    await expect(replicate(source, target, { delete: true })).rejects.toThrow(
      'refused to delete: the source holds no objects while the target holds 2, so deleting would empty the copy (is the archive mounted, is the prefix right?); nothing was deleted',
    );
    expect(await targetKeys()).toEqual([key(1), key(2)]);
  });

  it('refuses deletions of more than half of the target unless forced; then counts what it deleted', async () => {
    await put(source, [key(1)]);
    await put(target, [key(1), key(2), key(3)]);

    await expect(replicate(source, target, { delete: true })).rejects.toThrow(
      "refused to delete 2 of the target's 3 objects: more than half of it (is the source the right archive?); nothing was deleted, --force-delete deletes them",
    );
    expect(await targetKeys()).toEqual([key(1), key(2), key(3)]);

    const sut = await replicate(source, target, { delete: true, forceDelete: true });

    expect(sut).toMatchObject({ checked: 1, unchanged: 1, deleted: 2, extra: 0 });
    expect(await targetKeys()).toEqual([key(1)]);
  });

  it('deletes up to half of the target without force, and reports those deleted', async () => {
    await put(source, [key(1), key(2), key(3)]);
    await put(target, [key(1), key(2), key(3), key(4)]);

    const sut = await replicate(source, target, { delete: true });

    expect(sut).toMatchObject({ checked: 3, unchanged: 3, deleted: 1, extra: 0 });
    expect(await targetKeys()).toEqual([key(1), key(2), key(3)]);
  });

  it('deletes nothing when the walk of the source is stopped part way', async () => {
    const snapshots = [1, 2, 3, 4].map((n) => `apps/acme/app-${n}/20240101T00000${n}Z.yml`);
    await put(source, [key(2), key(3), key(4), ...snapshots]);
    await put(target, [key(1)]);
    const stop = new AbortController();

    // stopped among the app snapshots, after the conversations (and their extra) were walked
    const sut = replicate(source, target, { delete: true, concurrency: 1, signal: stop.signal, onProgress: (p) => p.checked >= 5 && stop.abort() });

    await expect(sut).rejects.toThrow(ReplicationAbortedError);
    expect(await targetKeys()).toContain(key(1));
  });

  it('compares by sha256 when the ETag is not an MD5, so an unchanged object is not copied again', async () => {
    await put(source, [key(1), key(2)]);
    await replicate(source, target);
    await target.put(key(2), Buffer.from(JSON.stringify({ key: 'same size!!' }).padEnd(JSON.stringify({ key: key(2) }).length)));

    const sut = await replicate(source, withForeignEtags(target));

    expect(sut).toMatchObject({ checked: 2, copied: 1, unchanged: 1 });
    expect((await target.get(key(2)))!.toString()).toBe(JSON.stringify({ key: key(2) }));
  });
});
