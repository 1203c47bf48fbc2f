import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { S3Instance, startCephRgw } from '../test/support/ceph-rgw';
import { PostgresInstance, startPostgresServer } from '../test/support/postgres';
import { destroyRunDir, isOurProcess, readPids } from '../test/support/processes';
import { MissingDependencyError } from '../test/support/requires';

/**
 * The real parts some scenarios need, started by the bench itself as the tests start them: a one-node Ceph
 * RADOS Gateway (memstore) and a PostgreSQL server, on loopback, in a temp folder of the run. Each is started
 * on first use; `stop()` kills them by the pids recorded in that folder, and so does Ctrl-C or a crash.
 */
export class BenchServices {
  readonly dir: string;
  private s3Start?: Promise<S3Instance | string>;
  private pgStart?: Promise<PostgresInstance | string>;
  private stopped = false;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    void this.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  private readonly onExit = () => {
    // last resort: the daemons are detached, so they would outlive the bench (synchronous kill only)
    for (const { pid, name } of readPids(this.dir)) {
      if (!isOurProcess(pid, name)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  };

  constructor(private readonly log: (line: string) => void) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vault-bench-run-'));
    fs.writeFileSync(path.join(this.dir, 'pids'), '');
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', this.onExit);
  }

  /** The gateway, or a line saying what to install. */
  s3(): Promise<S3Instance | string> {
    this.s3Start ??= this.start('Ceph RADOS Gateway (memstore)', () => startCephRgw(path.join(this.dir, 'ceph'), this.dir));
    return this.s3Start;
  }

  /** The PostgreSQL server, or a line saying what to install. */
  postgres(): Promise<PostgresInstance | string> {
    this.pgStart ??= this.start('PostgreSQL', () => startPostgresServer(this.dir));
    return this.pgStart;
  }

  /** Kills every daemon started here and removes their folders. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    await destroyRunDir(this.dir);
    process.off('exit', this.onExit);
  }

  private async start<T>(name: string, start: () => Promise<T>): Promise<T | string> {
    const started = Date.now();
    try {
      const instance = await start();
      this.log(`  started ${name} on loopback in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return instance;
    } catch (error) {
      if (error instanceof MissingDependencyError) return error.message.replace(/ tests need /, ' scenarios need ');
      throw error;
    }
  }
}
