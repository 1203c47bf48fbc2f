import { parseRedactKinds, parseRedactPatterns, RedactionConfigError } from './redaction-config';

describe('redaction settings', () => {
  describe(parseRedactKinds.name, () => {
    it('reads a comma list in any case and order, kept in the order rules run', () => {
      expect(parseRedactKinds(' Phone,email ,IP')).toEqual(['email', 'ip', 'phone']);
      expect(parseRedactKinds(undefined)).toEqual([]);
      expect(parseRedactKinds('')).toEqual([]);
    });
    it('names the variable and lists the allowed kinds for an unknown one', () => {
      expect(() => parseRedactKinds('email,names')).toThrow(
        new RedactionConfigError('REDACT has unknown kind "names"; allowed kinds: email, iban, card, ip, phone'),
      );
    });
  });

  describe(parseRedactPatterns.name, () => {
    it('reads named patterns with optional flags', () => {
      expect(parseRedactPatterns('[{"name":"order","pattern":"ORD-\\\\d{6}","flags":"i"},{"name":"ticket","pattern":"T#\\\\d+"}]')).toEqual([
        { name: 'order', pattern: 'ORD-\\d{6}', flags: 'i' },
        { name: 'ticket', pattern: 'T#\\d+', flags: '' },
      ]);
      expect(parseRedactPatterns(undefined)).toEqual([]);
      expect(parseRedactPatterns('  ')).toEqual([]);
    });

    it.each([
      ['[{"name":', /^REDACT_PATTERNS is not valid JSON/],
      ['{"name":"order"}', /^REDACT_PATTERNS must be a JSON list/],
      ['["ORD"]', /^REDACT_PATTERNS\[0\] must be an object/],
      ['[{"name":"order","pattern":"ORD-("}]', /^REDACT_PATTERNS\[0\]\.pattern is not a valid regular expression: /],
      ['[{"name":"a","pattern":"x"},{"name":"b","pattern":"["}]', /^REDACT_PATTERNS\[1\]\.pattern is not a valid regular expression/],
      ['[{"name":"email","pattern":"x"}]', /^REDACT_PATTERNS\[0\]\.name "email" clashes with the built-in kind/],
      ['[{"name":"a","pattern":"x"},{"name":"a","pattern":"y"}]', /^REDACT_PATTERNS\[1\]\.name "a" is used by an earlier entry/],
      ['[{"name":"Bad Name","pattern":"x"}]', /^REDACT_PATTERNS\[0\]\.name must be/],
      ['[{"name":"a","pattern":""}]', /^REDACT_PATTERNS\[0\]\.pattern must be a non-empty string/],
      ['[{"name":"a","pattern":"x*"}]', /^REDACT_PATTERNS\[0\]\.pattern matches the empty string/],
      ['[{"name":"a","pattern":"x","flags":"g"}]', /^REDACT_PATTERNS\[0\]\.flags may hold only/],
      ['[{"name":"a","pattern":"x","replacement":"y"}]', /^REDACT_PATTERNS\[0\] has unknown field "replacement"/],
    ])('%s is refused', (value, message) => {
      expect(() => parseRedactPatterns(value)).toThrow(message);
    });
  });
});
