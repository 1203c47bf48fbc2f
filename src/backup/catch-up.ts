const DAY_MS = 86_400_000;

export interface Slice {
  start: Date;
  end: Date;
}

/** Where a source's first catch-up starts: `30d` means 30 days before `now`, otherwise an ISO instant. */
export function backfillStart(backfillFrom: string, now: Date): Date {
  const days = /^(\d+)d$/.exec(backfillFrom);
  if (days) return new Date(now.getTime() - Number(days[1]) * DAY_MS);
  const ms = Date.parse(backfillFrom);
  if (Number.isNaN(ms)) throw new Error(`BACKFILL_FROM is neither an ISO date nor <N>d: ${backfillFrom}`);
  return new Date(ms);
}

/**
 * The window a catch-up run backs up: from the checkpoint minus the overlap (conversations sharing a
 * second, late writes on Dify's side), or from the backfill start on the first run, up to now.
 */
export function catchUpWindow(
  checkpoint: string | null,
  now: Date,
  options: { backfillFrom: string; overlapSeconds: number },
): Slice {
  const startMs = checkpoint
    ? Date.parse(checkpoint) - options.overlapSeconds * 1000
    : backfillStart(options.backfillFrom, now).getTime();
  return { start: new Date(Math.min(startMs, now.getTime())), end: now };
}

/**
 * Cuts a window at UTC midnights so the checkpoint can move after each fully saved day: a failure
 * on day 3 of 30 keeps days 1-2 done.
 */
export function splitByDay(window: Slice): Slice[] {
  const slices: Slice[] = [];
  let start = window.start.getTime();
  const end = window.end.getTime();
  while (start < end) {
    const nextMidnight = (Math.floor(start / DAY_MS) + 1) * DAY_MS;
    const sliceEnd = Math.min(nextMidnight, end);
    slices.push({ start: new Date(start), end: new Date(sliceEnd) });
    start = sliceEnd;
  }
  return slices.length ? slices : [{ start: window.start, end: window.end }];
}

/** Before this instant Dify may already have purged its logs. */
export function purgeHorizon(now: Date, difyRetentionDays: number): Date {
  return new Date(now.getTime() - difyRetentionDays * DAY_MS);
}
