const BAR_WIDTH = 24;
/** redraws at most this often: a terminal is slower than a fast reindex */
const REDRAW_MS = 100;

/**
 * One redrawn line on stderr while a long command runs. Without a terminal (piped, cron, CI) it is
 * silent, so the output holds nothing but the result.
 */
export class TerminalProgress {
  private drawn = false;
  private lastDraw = 0;
  private readonly started: number;

  constructor(
    private readonly terminal: NodeJS.WriteStream | null | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
  }

  get active(): boolean {
    return !!this.terminal;
  }

  /** `[#####-----]  42% <text>`; `fraction` null draws no bar */
  update(fraction: number | null, text: string, force = false): void {
    if (!this.terminal) return;
    const t = this.now();
    if (!force && this.drawn && t - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = t;
    const line = fraction === null ? text : `${bar(fraction)} ${text}`;
    const width = (this.terminal.columns || 120) - 1;
    this.terminal.write(`\r\x1b[2K${line.slice(0, width)}`);
    this.drawn = true;
  }

  /** items per second since the start */
  perSecond(count: number): number {
    const seconds = (this.now() - this.started) / 1000;
    return seconds > 0 ? count / seconds : 0;
  }

  clear(): void {
    if (this.terminal && this.drawn) this.terminal.write('\r\x1b[2K');
    this.drawn = false;
  }
}

function bar(fraction: number): string {
  const done = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(done * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.round(done * 100)).padStart(3)}%`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Runs `body` with SIGINT and SIGTERM routed to `onSignal` instead of ending the process. */
export async function withInterruptHandler<T>(onSignal: () => void, body: () => Promise<T>): Promise<T> {
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
