import { KeyedLock } from './keyed-lock';

describe(KeyedLock.name, () => {
  it('runs work for one key one at a time, in order', async () => {
    const sut = new KeyedLock();
    const events: string[] = [];
    const job = (name: string, ms: number) => async () => {
      events.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`end ${name}`);
      return name;
    };
    const results = await Promise.all([sut.run('a', job('1', 20)), sut.run('a', job('2', 1))]);
    expect(results).toEqual(['1', '2']);
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    expect(sut.isLocked('a')).toBe(false);
  });

  it('runs different keys in parallel and survives a failing job', async () => {
    const sut = new KeyedLock();
    const events: string[] = [];
    const failing = sut.run('a', async () => {
      events.push('a');
      throw new Error('boom');
    });
    const other = sut.run('b', async () => {
      events.push('b');
      return 'b';
    });
    await expect(failing).rejects.toThrow('boom');
    await expect(other).resolves.toBe('b');
    await expect(sut.run('a', async () => 'after')).resolves.toBe('after');
    expect(events.sort()).toEqual(['a', 'b']);
  });
});
