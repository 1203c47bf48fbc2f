import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { sourceKey, SourceRegistry } from './source-registry';
import type { DifySource } from '../dify/dify.types';
import { CHECKPOINT_REPOSITORY, CheckpointRepository } from './checkpoint.repository';
import { Clock } from '../common/clock';
import type { SourceState } from './jobs.types';

type SourceRef = Pick<DifySource, 'app_id' | 'organization_id'>;

/** Per-source checkpoints and last-run facts, kept in memory and written through on every change. */
@Injectable()
export class CheckpointService implements OnModuleInit {
  private readonly states = new Map<string, SourceState>();
  private loaded = false;

  constructor(
    @Inject(CHECKPOINT_REPOSITORY) private readonly repository: CheckpointRepository,
    private readonly registry: SourceRegistry,
    private readonly clock: Clock,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.ensureLoaded();
    const before = this.states.size;
    for (const source of this.registry.list()) this.getOrCreate(source);
    if (this.states.size !== before) await this.persist();
  }

  /** Takes in what another process (a CLI next to the server) wrote since. */
  async reload(): Promise<void> {
    await this.ensureLoaded();
    for (const state of await this.repository.load()) {
      if (state && typeof state.key === 'string') this.states.set(state.key, state);
    }
  }

  /** The state of a source (a fresh one, not yet saved, when the source has never been seen). */
  get(source: SourceRef): SourceState {
    return { ...this.getOrCreate(source) };
  }

  find(source: SourceRef): SourceState | undefined {
    const state = this.states.get(sourceKey(source));
    return state ? { ...state } : undefined;
  }

  list(): SourceState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  async update(source: SourceRef, patch: Partial<Omit<SourceState, 'key' | 'app_id' | 'organization_id'>>): Promise<SourceState> {
    await this.ensureLoaded();
    const key = sourceKey(source);
    const fallback = this.getOrCreate(source);
    let updated = fallback;
    // the stored state of this source, not this process's copy, is the base: another process may have moved it
    await this.persist((stored) => {
      updated = { ...(stored.get(key) ?? fallback), ...patch };
      stored.set(key, updated);
    });
    return { ...updated };
  }

  private getOrCreate(source: SourceRef): SourceState {
    const key = sourceKey(source);
    let state = this.states.get(key);
    if (!state) {
      state = {
        key,
        app_id: source.app_id,
        organization_id: source.organization_id ?? null,
        checkpoint: null,
        first_seen_at: this.clock.now().toISOString(),
        last_run_at: null,
        last_run_job_id: null,
        last_outcome: null,
        last_success_at: null,
        access_mode: null,
        coverage: null,
        stale_alerted_at: null,
      };
      this.states.set(key, state);
    }
    return state;
  }

  private async ensureLoaded(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    for (const state of await this.repository.load()) {
      if (state && typeof state.key === 'string') this.states.set(state.key, state);
    }
  }

  /** Merges into what is stored: states this process has never seen are kept, its own changes applied. */
  private async persist(change: (stored: Map<string, SourceState>) => void = () => undefined): Promise<void> {
    const written = await this.repository.update((stored) => {
      const byKey = new Map(stored.map((s) => [s.key, s]));
      for (const [key, state] of this.states) if (!byKey.has(key)) byKey.set(key, state);
      change(byKey);
      return [...byKey.values()];
    });
    for (const state of written) this.states.set(state.key, state);
  }
}
