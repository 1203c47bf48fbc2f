import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { withFileLock } from './file-lock';

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  return child.pid;
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe(withFileLock.name, () => {
  let dir: string;
  let lock: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-lock-'));
    lock = path.join(dir, 'state.json.lock');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const leave = (content: object | string, ageMs = 0): void => {
    fs.writeFileSync(lock, typeof content === 'string' ? content : JSON.stringify(content));
    const at = new Date(Date.now() - ageMs);
    fs.utimesSync(lock, at, at);
  };

  it('lets callers racing over one left-over lock take turns, never two at once', async () => {
    leave({ pid: deadPid(), hostname: os.hostname(), id: 'left-over' }, 60_000);
    let inFlight = 0;
    let most = 0;
    let done = 0;
    const callers: Promise<void>[] = [];
    // the callers come one disk round trip apart, so each sees the left-over lock at another moment
    for (let i = 0; i < 12; i++) {
      callers.push(
        withFileLock(lock, async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          expect(JSON.parse(await fs.promises.readFile(lock, 'utf8'))).toMatchObject({ pid: process.pid });
          await turns(20);
          inFlight--;
          done++;
        }),
      );
      await fs.promises.stat(dir);
    }
    await Promise.all(callers);
    expect({ most, done }).toEqual({ most: 1, done: 12 });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('never takes the lock a caller of this process has just made for a left-over one (a read-change-write loses nothing)', async () => {
    const counter = path.join(dir, 'counter');
    fs.writeFileSync(counter, '0');
    let inFlight = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, () =>
        withFileLock(lock, async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          const n = Number(await fs.promises.readFile(counter, 'utf8'));
          await fs.promises.writeFile(counter, String(n + 1));
          inFlight--;
        }),
      ),
    );
    expect({ most, count: fs.readFileSync(counter, 'utf8') }).toEqual({ most: 1, count: '40' });
  });

  it("respects a fresh lock of another host even though its pid means nothing here", async () => {
    const pid = deadPid();
    leave({ pid, hostname: 'other-container', id: 'theirs' });
    const work = jest.fn();
    await expect(withFileLock(lock, work, { waitMs: 200 })).rejects.toThrow(`${lock} is held by pid ${pid} on other-container`);
    expect(work).not.toHaveBeenCalled();
    expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ id: 'theirs' });
  });

  it('takes over at once the fresh lock of a process of this host that is gone', async () => {
    leave({ pid: deadPid(), hostname: os.hostname(), id: 'gone' });
    await expect(withFileLock(lock, async () => JSON.parse(fs.readFileSync(lock, 'utf8')), { waitMs: 0 })).resolves.toMatchObject({
      pid: process.pid,
      hostname: os.hostname(),
    });
    expect(fs.existsSync(lock)).toBe(false);
  });

  it('takes over a lock naming this pid that none of its callers holds (an earlier process with the same pid)', async () => {
    leave({ pid: process.pid, hostname: os.hostname(), id: 'earlier' });
    await expect(withFileLock(lock, async () => 'ran', { waitMs: 0 })).resolves.toBe('ran');
  });

  it('takes over an old lock of another host, and one it cannot read, once they are stale', async () => {
    leave({ pid: 4242, hostname: 'other-container', id: 'theirs' }, 5_000);
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 1_000, waitMs: 0 })).resolves.toBe('ran');
    leave('12', 5_000);
    await expect(withFileLock(lock, async () => 'ran', { staleMs: 1_000, waitMs: 0 })).resolves.toBe('ran');
  });

  it('keeps its lock fresh while it works, so a waiter does not take it for a left-over one', async () => {
    const staleMs = 500;
    const events: string[] = [];
    const first = withFileLock(
      lock,
      async () => {
        events.push('first started');
        const started = Date.now();
        // works for several stale periods (polling, not racing: the waiter below must not get in meanwhile)
        while (Date.now() - started < 4 * staleMs) await new Promise((resolve) => setTimeout(resolve, 20));
        events.push('first finished');
      },
      { staleMs },
    );
    while (!events.includes('first started')) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = withFileLock(lock, async () => void events.push('second ran'), { staleMs, waitMs: 60_000 });
    await Promise.all([first, second]);
    expect(events).toEqual(['first started', 'first finished', 'second ran']);
  });

  it('does not remove, when it finishes, a lock that is no longer its own', async () => {
    await withFileLock(lock, async () => {
      fs.unlinkSync(lock);
      leave({ pid: 4242, hostname: 'other-container', id: 'theirs' });
    });
    expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ id: 'theirs' });
  });
});
