import { isIPv6 } from 'node:net';

/** The built-in kinds `REDACT` may list, in the order they are applied. */
export const REDACTION_KINDS = ['email', 'iban', 'card', 'ip', 'phone'] as const;
export type RedactionKind = (typeof REDACTION_KINDS)[number];

/**
 * One kind of sensitive text: a candidate pattern (global) and a check of each candidate.
 * `accept` returns the part of the candidate to replace (a prefix of it), or null to keep the text.
 */
export interface RedactionRule {
  kind: string;
  pattern: RegExp;
  accept?: (candidate: string) => string | null;
}

const digitsOf = (text: string): string => text.replace(/\D/g, '');

/** The Luhn checksum every payment card number carries. */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** ISO 13616: country code, two check digits, 11-30 letters or digits, and the whole mod 97 equal to 1. */
export function isValidIban(text: string): boolean {
  const iban = text.replace(/ /g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const value = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const d of value) remainder = (remainder * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

// Letters and digits of any script: a match must not be glued to a word.
const NOT_AFTER_WORD = '(?<![\\p{L}\\p{N}_])';
const NOT_BEFORE_WORD = '(?![\\p{L}\\p{N}_])';

const EMAIL = new RegExp(
  `(?<![\\p{L}\\p{N}._%+-])[\\p{L}\\p{N}._%+-]+@[\\p{L}\\p{N}-]+(?:\\.[\\p{L}\\p{N}-]+)*\\.\\p{L}{2,}${NOT_BEFORE_WORD}`,
  'gu',
);

// Electronic form (no spaces) or printed form (groups of four); upper-case country code.
const IBAN = new RegExp(
  `${NOT_AFTER_WORD}[A-Z]{2}\\d{2}(?:[A-Z0-9]{11,30}|(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?)${NOT_BEFORE_WORD}`,
  'gu',
);

/** The longest prefix, cut at a space, that is a valid IBAN: a printed IBAN may be followed by a capitalised word. */
function acceptIban(candidate: string): string | null {
  const parts = candidate.split(' ');
  for (let n = parts.length; n >= 1; n--) {
    const prefix = parts.slice(0, n).join(' ');
    if (isValidIban(prefix)) return prefix;
  }
  return null;
}

// 13-19 digits, optionally grouped by single spaces or dashes.
const CARD = new RegExp(`${NOT_AFTER_WORD}\\d(?:[ -]?\\d){12,18}${NOT_BEFORE_WORD}`, 'gu');

function acceptCard(candidate: string): string | null {
  const digits = digitsOf(candidate);
  return digits.length >= 13 && digits.length <= 19 && passesLuhn(digits) ? candidate : null;
}

// Candidates only; node's own parser decides. `::ffff:1.2.3.4` style tails included.
const IPV6 = new RegExp(
  '(?<![\\p{L}\\p{N}_:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:\\d{1,3}(?:\\.\\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\\p{L}\\p{N}_:])',
  'gu',
);

function acceptIpv6(candidate: string): string | null {
  return /[0-9A-Fa-f]/.test(candidate) && isIPv6(candidate) ? candidate : null;
}

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\p{L}\\p{N}_.])${OCTET}(?:\\.${OCTET}){3}(?![\\p{L}\\p{N}_]|\\.\\d)`, 'gu');

/**
 * Phone numbers in three shapes, each with 8-15 digits:
 * - international: `+` and the country code (`+49 30 1234567`, `+1 (555) 123-4567`, `+441632960123`);
 * - national with a trunk prefix `0` (`030 1234567`, `(0171) 123 45 67`, `0044 20 7946 0958`);
 * - North American grouping with separators (`(555) 123-4567`, `555-123-4567`, `555.123.4567`).
 * Digit runs without `+` or a leading `0` (order numbers, amounts, years) are not phones.
 */
const PHONE = new RegExp(
  [
    `(?<![\\p{L}\\p{N}_+])\\+\\d{1,3}(?:[ .-]?\\(?\\d{1,5}\\)?){1,6}`,
    `(?<![\\p{L}\\p{N}_+.,/:-])\\(?0\\d{1,4}\\)?(?:[ ./-]?\\d{2,8}){1,5}`,
    `(?<![\\p{L}\\p{N}_+.,/:-])(?:\\([2-9]\\d{2}\\) ?|[2-9]\\d{2}[ .-])\\d{3}[ .-]\\d{4}`,
  ]
    .map((alternative) => `(?:${alternative})`)
    .join('|') + `(?![\\p{L}\\p{N}_]|[.,/:-]\\d)`,
  'gu',
);

// dd.mm.yyyy, dd/mm/yy, yyyy-mm-dd and the like: a leading 0 makes them look like national numbers.
const DATE_LIKE = /^\(?\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\)?$/;

function acceptPhone(candidate: string): string | null {
  let phone = candidate;
  // a number followed by more figures ("+49 30 1234567 2024") loses the trailing groups, not its redaction
  while (digitsOf(phone).length > 15) {
    const shorter = phone.replace(/[ .-]?\(?\d+\)?$/, '');
    if (shorter === phone) return null;
    phone = shorter;
  }
  if (digitsOf(phone).length < 8 || DATE_LIKE.test(phone)) return null;
  return phone;
}

/** The built-in rules, by kind. IPv6 runs before IPv4 so an embedded IPv4 tail goes with its address. */
export const BUILT_IN_RULES: Record<RedactionKind, RedactionRule[]> = {
  email: [{ kind: 'email', pattern: EMAIL }],
  iban: [{ kind: 'iban', pattern: IBAN, accept: acceptIban }],
  card: [{ kind: 'card', pattern: CARD, accept: acceptCard }],
  ip: [
    { kind: 'ip', pattern: IPV6, accept: acceptIpv6 },
    { kind: 'ip', pattern: IPV4 },
  ],
  phone: [{ kind: 'phone', pattern: PHONE, accept: acceptPhone }],
};
