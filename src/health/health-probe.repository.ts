import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig } from '../config/app-config';

/** The file-system I/O of the readiness checks, all under LOGS_DIR. */
@Injectable()
export class HealthProbeRepository {
  constructor(private readonly config: AppConfig) {}

  /** Creates and removes a small temp file under LOGS_DIR/state; throws the file system's error. */
  async probeWritable(): Promise<void> {
    const dir = path.join(this.config.logsDir, 'state');
    await fs.promises.mkdir(dir, { recursive: true });
    const file = path.join(dir, `.ready-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.promises.writeFile(file, 'ready\n', { flag: 'wx' });
    } finally {
      await fs.promises.rm(file, { force: true });
    }
  }

  /** Bytes available to this process on the file system holding LOGS_DIR. */
  async freeBytes(): Promise<number> {
    const stats = await fs.promises.statfs(this.config.logsDir);
    return stats.bavail * stats.bsize;
  }
}
