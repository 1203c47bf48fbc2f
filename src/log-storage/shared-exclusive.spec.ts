import { SharedExclusive } from './shared-exclusive';

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

describe(SharedExclusive.name, () => {
  it('lets shared work overlap, and runs exclusive work alone after the shared work under way', async () => {
    const sut = new SharedExclusive();
    const events: string[] = [];
    const shared = (name: string) =>
      sut.shared(async () => {
        events.push(`start ${name}`);
        await tick();
        events.push(`end ${name}`);
      });
    const a = shared('a');
    const b = shared('b');
    const x = sut.exclusive(async () => {
      events.push('start x');
      await tick();
      events.push('end x');
    });
    const c = shared('c');
    await Promise.all([a, b, x, c]);
    expect(events.slice(0, 2)).toEqual(['start a', 'start b']);
    expect(events.indexOf('start x')).toBeGreaterThan(events.indexOf('end b'));
    expect(events.indexOf('start c')).toBeGreaterThan(events.indexOf('end x'));
  });

  it('opens again after a failing exclusive run', async () => {
    const sut = new SharedExclusive();
    await expect(sut.exclusive(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(sut.isExclusive).toBe(false);
    await expect(sut.shared(async () => 1)).resolves.toBe(1);
  });
});
