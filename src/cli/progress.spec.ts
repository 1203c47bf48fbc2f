import { TerminalProgress } from './progress';

describe(TerminalProgress.name, () => {
  const terminal = () => {
    const writes: string[] = [];
    return { writes, stream: { columns: 80, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
  };

  it('stays silent without a terminal', () => {
    const sut = new TerminalProgress(null);
    sut.update(0.5, 'half');
    sut.clear();
    expect(sut.active).toBe(false);
  });

  it('redraws one line with a bar, the count and the rate, at most every 100 ms, and clears it', () => {
    let now = 1_000;
    const t = terminal();
    const sut = new TerminalProgress(t.stream, () => now);
    now += 2_000;
    sut.update(0.5, `50/100 files (${Math.round(sut.perSecond(50))}/s)`);
    now += 50;
    sut.update(0.6, 'skipped: too soon');
    now += 100;
    sut.update(null, 'no bar');
    sut.clear();
    expect(t.writes).toEqual([
      '\r\x1b[2K[############------------]  50% 50/100 files (25/s)',
      '\r\x1b[2Kno bar',
      '\r\x1b[2K',
    ]);
  });
});
