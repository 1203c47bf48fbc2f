/**
 * Warnings a client gathers while it works (a run without detail, a soft-deleted conversation read from
 * another route, a side effect it had to accept). Said once each; the backup run takes them when it ends.
 */
export class WarningLog {
  private readonly items: string[] = [];
  private readonly keys = new Set<string>();

  /** `key` lets a warning that would repeat for every conversation be said only once. */
  add(message: string, key: string = message): void {
    if (this.keys.has(key)) return;
    this.keys.add(key);
    this.items.push(message);
  }

  /** The warnings gathered since the last call, oldest first. */
  take(): string[] {
    return this.items.splice(0);
  }
}
