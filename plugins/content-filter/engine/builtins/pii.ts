import { cardValid, caSinValid, esDniValid, ibanValid, ukNinoValid, usSsnValid } from '../checks';
import type { Pattern } from '../patterns';

/**
 * Personal data. Each candidate pattern is cheap and bounded; the checks after it (Luhn,
 * mod-97, number-plan rules) keep ordinary digit runs from being reported.
 */

export const PII_KINDS = ['email', 'phone', 'credit_card', 'iban', 'national_id'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

const digitsOf = (s: string) => s.replace(/\D/g, '');

/** Dotted quads (IP addresses, version numbers) look like phone numbers written with dots. */
const DOTTED_QUAD = /^\d{1,3}(?:\.\d{1,3}){3}$/;

const PATTERNS: Record<PiiKind, Pattern[]> = {
  email: [
    {
      label: 'email',
      re: /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/g,
    },
  ],
  phone: [
    // International, written with a leading + (E.164: 8 to 15 digits in all).
    {
      label: 'phone',
      re: /(?<![\w+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]\d{1,8}){1,6}(?!\d)|(?<![\w+])\+\d{8,15}(?!\d)/g,
      check: (m) => {
        const n = digitsOf(m[0]!).length;
        return n >= 8 && n <= 15 && !DOTTED_QUAD.test(m[0]!.slice(1));
      },
    },
    // North American: (415) 555-2671, 415-555-2671, 1 415 555 2671. Area and exchange codes
    // never start with 0 or 1.
    {
      label: 'phone',
      re: /(?<![\w+.-])(?:1[ .-])?(?:\(([2-9]\d{2})\) ?|([2-9]\d{2})[ .-])([2-9]\d{2})[ .-]\d{4}(?![\w]|[ .-]\d)/g,
      check: (m) => !DOTTED_QUAD.test(m[0]!),
    },
  ],
  credit_card: [
    {
      label: 'credit_card',
      re: /(?<![\d-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)/g,
      check: (m) => cardValid(digitsOf(m[0]!)),
    },
  ],
  iban: [
    {
      label: 'iban',
      re: /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])/g,
      check: (m) => ibanValid(m[0]!),
    },
  ],
  national_id: [
    // US SSN 123-45-6789 (one separator style throughout).
    {
      label: 'national_id',
      re: /(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])/g,
      check: (m) => usSsnValid(m[1]!, m[3]!, m[4]!),
    },
    // UK National Insurance number QQ 12 34 56 C.
    {
      label: 'national_id',
      re: /(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])/g,
      check: (m) => ukNinoValid(m[1]!),
    },
    // Canadian SIN 046 454 286 (Luhn).
    {
      label: 'national_id',
      re: /(?<![\d-])\d{3}([ -])\d{3}\1\d{3}(?![\d-])/g,
      check: (m) => caSinValid(digitsOf(m[0]!)),
    },
    // Spanish DNI 12345678Z (check letter).
    {
      label: 'national_id',
      re: /(?<![A-Za-z0-9])(\d{8})-?([A-HJ-NP-TV-Z])(?![A-Za-z0-9])/g,
      check: (m) => esDniValid(m[1]!, m[2]!),
    },
  ],
};

export function piiPatterns(kinds: readonly PiiKind[]): Pattern[] {
  return kinds.flatMap((k) => PATTERNS[k]);
}
