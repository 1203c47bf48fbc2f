import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { isSafeName } from '../common/safe-name';
import { ARCHIVE_STORE, ArchiveStore } from './archive-store';

export const APP_CONFIGS_DIR = 'apps';
const MANIFEST = 'snapshots.json';

/** One saved configuration (DSL) of an app. */
export interface AppConfigSnapshot {
  /** archive key: `apps/<org>/<app id>/<stamp>.yml` */
  key: string;
  /** hex SHA-256 of the file's bytes (the YAML as Dify exported it) */
  sha256: string;
  size: number;
  saved_at: string;
}

export interface AppConfigSnapshotSummary {
  count: number;
  latest_at: string | null;
}

export interface SnapshotSaveResult extends AppConfigSnapshotSummary {
  /** false when the configuration equals the latest snapshot (nothing written) */
  written: boolean;
  key: string;
}

export interface AppConfigVerifyResult {
  checked: number;
  /** recorded in a manifest, gone from the archive */
  missing: string[];
  /** bytes that do not match the recorded SHA-256 */
  changed: string[];
}

interface Manifest {
  version: 1;
  app_id: string;
  organization_id: string | null;
  snapshots: AppConfigSnapshot[];
}

/** `apps/<org>/<app id>/`, the organization level left out without one; throws on a name that is not path-safe. */
export function appConfigFolder(organizationId: string | null, appId: string): string {
  if (!isSafeName(appId)) throw new Error('app_id is not a safe name');
  if (organizationId !== null && !isSafeName(organizationId)) throw new Error('organization_id is not a safe name');
  return [APP_CONFIGS_DIR, ...(organizationId ? [organizationId] : []), appId, ''].join('/');
}

function stampOf(at: Date): string {
  return at.toISOString().replace(/[:.]/g, '-');
}

/**
 * App configuration snapshots in the archive: a new `<stamp>.yml` only when the configuration's hash differs
 * from the latest one, and per app a manifest of what was written with each file's hash (for verify).
 */
@Injectable()
export class AppConfigSnapshots {
  private readonly logger = new Logger(AppConfigSnapshots.name);

  constructor(@Inject(ARCHIVE_STORE) private readonly store: ArchiveStore) {}

  async save(input: { organizationId: string | null; appId: string; yaml: string; sha256: string; at: Date }): Promise<SnapshotSaveResult> {
    const folder = appConfigFolder(input.organizationId, input.appId);
    const manifest = (await this.readManifest(folder)) ?? {
      version: 1,
      app_id: input.appId,
      organization_id: input.organizationId,
      snapshots: [],
    };
    const latest = manifest.snapshots.at(-1);
    if (latest?.sha256 === input.sha256) return { written: false, key: latest.key, ...summaryOf(manifest) };

    let at = input.at;
    // two changes within one millisecond still get two files
    while (manifest.snapshots.some((s) => s.key === `${folder}${stampOf(at)}.yml`)) at = new Date(at.getTime() + 1);
    const key = `${folder}${stampOf(at)}.yml`;
    const stored = await this.store.put(key, Buffer.from(input.yaml, 'utf8'));
    manifest.snapshots.push({ key, sha256: stored.sha256, size: stored.size, saved_at: at.toISOString() });
    await this.store.put(`${folder}${MANIFEST}`, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8'));
    this.logger.debug(`Saved configuration snapshot ${key}`);
    return { written: true, key, ...summaryOf(manifest) };
  }

  async summary(organizationId: string | null, appId: string): Promise<AppConfigSnapshotSummary> {
    const manifest = await this.readManifest(appConfigFolder(organizationId, appId));
    return manifest ? summaryOf(manifest) : { count: 0, latest_at: null };
  }

  async list(organizationId: string | null, appId: string): Promise<AppConfigSnapshot[]> {
    return (await this.readManifest(appConfigFolder(organizationId, appId)))?.snapshots ?? [];
  }

  /** Every snapshot a manifest records, its bytes hashed again. */
  async verify(): Promise<AppConfigVerifyResult> {
    const result: AppConfigVerifyResult = { checked: 0, missing: [], changed: [] };
    for await (const object of this.store.list(`${APP_CONFIGS_DIR}/`)) {
      if (!object.key.endsWith(`/${MANIFEST}`)) continue;
      const manifest = await this.readManifest(object.key.slice(0, -MANIFEST.length));
      for (const snapshot of manifest?.snapshots ?? []) {
        result.checked++;
        const bytes = await this.store.get(snapshot.key);
        if (!bytes) result.missing.push(snapshot.key);
        else if (createHash('sha256').update(bytes).digest('hex') !== snapshot.sha256) result.changed.push(snapshot.key);
      }
    }
    return result;
  }

  private async readManifest(folder: string): Promise<Manifest | null> {
    const bytes = await this.store.get(`${folder}${MANIFEST}`);
    if (!bytes) return null;
    try {
      const parsed = JSON.parse(bytes.toString('utf8')) as Manifest;
      if (!Array.isArray(parsed?.snapshots)) return null;
      parsed.snapshots = parsed.snapshots.filter((s) => typeof s?.key === 'string' && s.key.startsWith(folder) && typeof s.sha256 === 'string');
      return parsed;
    } catch {
      return null;
    }
  }
}

function summaryOf(manifest: Manifest): AppConfigSnapshotSummary {
  return { count: manifest.snapshots.length, latest_at: manifest.snapshots.at(-1)?.saved_at ?? null };
}
