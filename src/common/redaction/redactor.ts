import type { ArchivedConversation } from '../conversation-log';
import { BUILT_IN_RULES, RedactionKind, RedactionRule, REDACTION_KINDS } from './redaction-rules';

/** Matches per kind (built-in kinds and the names of `REDACT_PATTERNS`); every enabled kind is present. */
export type RedactionCounts = Record<string, number>;

export interface CustomRedactionPattern {
  name: string;
  pattern: string;
  flags: string;
}

export interface RedactionSettings {
  kinds: RedactionKind[];
  patterns: CustomRedactionPattern[];
}

/**
 * Keys whose string values are structure, not text: ids, enums and versions. Together with every key
 * ending in `_id`, `_ids`, `_at` (timestamps) or `_hash`, they are kept as they are.
 */
export const STRUCTURAL_KEYS: ReadonlySet<string> = new Set([
  'id',
  'status',
  'mode',
  'app_mode',
  'access_mode',
  'from_source',
  'created_from',
  'created_by_role',
  'triggered_from',
  'role',
  'type',
  'rating',
  'transfer_method',
  'belongs_to',
  'mime_type',
  'data_source_type',
  'currency',
  'version',
  'icon',
  'icon_type',
  'icon_background',
]);

/** Values chosen by the app's author (variables): every string inside is text, whatever its key. */
export const FREE_FORM_KEYS: ReadonlySet<string> = new Set(['inputs', 'outputs']);

export function isStructuralKey(key: string): boolean {
  return STRUCTURAL_KEYS.has(key) || /_(id|ids|at|hash)$/.test(key);
}

/**
 * Replaces sensitive text with `[kind]` placeholders. Pure: inputs are never changed, results are copies.
 * Rules run in a fixed order (custom patterns, then email, iban, card, ip, phone), each on the output of
 * the one before, so a placeholder is never matched again by a built-in rule.
 */
export class Redactor {
  private readonly rules: RedactionRule[];
  readonly kinds: readonly string[];

  constructor(settings: RedactionSettings = { kinds: [], patterns: [] }) {
    const custom: RedactionRule[] = settings.patterns.map((p) => ({
      kind: p.name,
      pattern: new RegExp(p.pattern, p.flags.includes('g') ? p.flags : `${p.flags}g`),
    }));
    const builtIn = REDACTION_KINDS.filter((k) => settings.kinds.includes(k)).flatMap((k) => BUILT_IN_RULES[k]);
    this.rules = [...custom, ...builtIn];
    this.kinds = [...new Set(this.rules.map((r) => r.kind))];
  }

  /** False when nothing is configured: every call returns its input unchanged. */
  get enabled(): boolean {
    return this.rules.length > 0;
  }

  redactText(text: string): { text: string; counts: RedactionCounts } {
    const counts = this.emptyCounts();
    return { text: this.apply(text, counts), counts };
  }

  /** A copy of the conversation with every text leaf redacted, and the number of replacements per kind. */
  redactConversation<T extends ArchivedConversation>(conversation: T): { conversation: T; counts: RedactionCounts } {
    const counts = this.emptyCounts();
    if (!this.enabled) return { conversation, counts };
    return { conversation: this.walk(conversation, false, counts) as T, counts };
  }

  private emptyCounts(): RedactionCounts {
    return Object.fromEntries(this.kinds.map((k) => [k, 0]));
  }

  private walk(value: unknown, freeForm: boolean, counts: RedactionCounts): unknown {
    if (typeof value === 'string') return this.apply(value, counts);
    if (Array.isArray(value)) return value.map((v) => this.walk(v, freeForm, counts));
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(value)) {
        if (!freeForm && isStructuralKey(key)) out[key] = v;
        else out[key] = this.walk(v, freeForm || FREE_FORM_KEYS.has(key), counts);
      }
      return out;
    }
    return value;
  }

  private apply(text: string, counts: RedactionCounts): string {
    let out = text;
    for (const rule of this.rules) {
      rule.pattern.lastIndex = 0;
      out = out.replace(rule.pattern, (candidate: string) => {
        const hit = rule.accept ? rule.accept(candidate) : candidate;
        if (hit === null || hit === '') return candidate;
        counts[rule.kind] = (counts[rule.kind] ?? 0) + 1;
        return `[${rule.kind}]${candidate.slice(hit.length)}`;
      });
    }
    return out;
  }
}
