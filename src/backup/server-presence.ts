import { writeFileAtomic } from '../common/atomic-write';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { isAbandonedTemp, isProcessAlive } from '../common/process-liveness';
import { AppConfig } from '../config/app-config';

export interface ServerHeartbeat {
  pid: number;
  hostname: string;
  started_at: string;
  /** where the server listens */
  url: string;
}

const HEARTBEAT_MS = 10_000;
/** a heartbeat of another host not touched for this long belongs to a server that is gone */
const STALE_AFTER_MS = 60_000;
const FILE = /^server-(\d+)\.json$/;

/**
 * `<LOGS_DIR>/state/server-<pid>.json` while a server runs, touched every few seconds and removed at
 * shutdown, so a second server on the same archive can name the first at start-up.
 */
@Injectable()
export class ServerPresence implements OnApplicationShutdown {
  private readonly logger = new Logger(ServerPresence.name);
  private readonly dir: string;
  private file: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(config: AppConfig) {
    this.dir = path.join(config.logsDir, 'state');
  }

  /** Writes this server's heartbeat and answers the other live servers on this archive; stale heartbeats are removed. */
  async announce(url: string): Promise<ServerHeartbeat[]> {
    const others = await this.others();
    const mine: ServerHeartbeat = { pid: process.pid, hostname: os.hostname(), started_at: new Date().toISOString(), url };
    // the pid alone is not unique across hosts sharing a volume
    const file = path.join(this.dir, `server-${process.pid}.json`);
    // a temp file named after this process: one a kill leaves behind is recognised and removed at the next start
    await writeFileAtomic(file, `${JSON.stringify(mine)}\n`, { mode: 0o600 });
    this.file = file;
    this.timer = setInterval(() => {
      const now = new Date();
      void fs.utimes(file, now, now).catch(() => undefined);
    }, HEARTBEAT_MS);
    this.timer.unref();
    return others;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.file) await fs.unlink(this.file).catch(() => undefined);
    this.file = null;
  }

  private async others(): Promise<ServerHeartbeat[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const found: ServerHeartbeat[] = [];
    for (const name of names) {
      if (name.startsWith('server-') && name.endsWith('.tmp')) {
        // a heartbeat write cut short by a kill (the writer's pid is in the name)
        const file = path.join(this.dir, name);
        const mtime = await fs.stat(file).then((s) => s.mtimeMs, () => Date.now());
        if (isAbandonedTemp(name, mtime)) await fs.unlink(file).catch(() => undefined);
        continue;
      }
      if (!FILE.test(name)) continue;
      const file = path.join(this.dir, name);
      const beat = await this.read(file);
      if (!beat || (beat.pid === process.pid && beat.hostname === os.hostname())) continue;
      if (await this.isLive(beat, file)) {
        found.push(beat);
      } else {
        await fs.unlink(file).catch(() => undefined);
        this.logger.log(`Removed the heartbeat of a server that is gone (pid ${beat.pid} on ${beat.hostname})`);
      }
    }
    return found;
  }

  private async isLive(beat: ServerHeartbeat, file: string): Promise<boolean> {
    if (beat.hostname === os.hostname()) return isProcessAlive(beat.pid);
    const mtime = await fs.stat(file).then((s) => s.mtimeMs, () => 0);
    return Date.now() - mtime <= STALE_AFTER_MS;
  }

  private async read(file: string): Promise<ServerHeartbeat | null> {
    try {
      const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as ServerHeartbeat;
      return typeof parsed?.pid === 'number' && typeof parsed.hostname === 'string' ? parsed : null;
    } catch {
      return null;
    }
  }
}
