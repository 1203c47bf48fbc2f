import { formatRatio, formatSpeedUp } from '../../bench/report';

/** The ratio column of the bench's table: never a speed-up that reads "1x faster". */
describe(formatRatio.name, () => {
  it.each([
    [0.703, 1, '0.703 (1.4x faster)'],
    [0.792, 1, '0.792 (1.3x faster)'],
    [136, 1000, '0.136 (7.4x faster)'],
    [96, 100, '0.960 (1.04x faster)'],
    [0.43, 920.2, '0.00047 (2140x faster)'],
    [0.42, 9190, '0.000046 (21881x faster)'],
  ])('%d against %d reads %s', (median, baseline, text) => {
    expect(formatRatio(median, baseline)).toBe(text);
  });

  it('gives a ratio of 1 or more with two decimals and no speed-up', () => {
    expect(formatRatio(1.49, 1)).toBe('1.49');
    expect(formatRatio(21.86, 1)).toBe('21.86');
    expect(formatRatio(1, 1)).toBe('1.00');
  });

  it('leaves out a speed-up that rounds to 1.00x', () => {
    expect(formatRatio(0.998, 1)).toBe('0.998');
  });

  it('says nothing without a baseline', () => {
    expect(formatRatio(5, null)).toBe('—');
    expect(formatRatio(5, 0)).toBe('—');
  });
});

describe(formatSpeedUp.name, () => {
  it.each([
    [1.004, null],
    [1.05, '1.05x'],
    [1.42, '1.4x'],
    [9.94, '9.9x'],
    [2130.4, '2130x'],
  ])('%d reads %s', (speedUp, text) => {
    expect(formatSpeedUp(speedUp)).toBe(text);
  });
});
