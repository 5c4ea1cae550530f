import type { Pattern } from '../patterns';

/**
 * Credentials by their published formats. Prefixes are specific enough that prose rarely
 * matches (`sk-learn` is not an OpenAI key: a key needs 32+ characters after `sk-`, or one of
 * the project/service-account prefixes).
 */

export const SECRET_KINDS = ['openai', 'anthropic', 'google', 'aws', 'github', 'slack', 'private_key', 'jwt', 'bearer'] as const;
export type SecretKind = (typeof SECRET_KINDS)[number];

const PATTERNS: Record<SecretKind, RegExp[]> = {
  openai: [/\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,300}|[A-Za-z0-9]{32,200}(?![A-Za-z0-9]))/g],
  anthropic: [/\bsk-ant-(?:api|admin|oat|sid)\d{2}-[A-Za-z0-9_-]{20,300}/g],
  google: [/\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g],
  aws: [
    /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[0-9A-Z]{16}(?![0-9A-Za-z])/g,
    // A secret access key is 40 base64 characters: only recognisable next to its name.
    /\baws_?secret_?access_?key["']?\s{0,4}[:=]\s{0,4}["']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])/gi,
  ],
  github: [/\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})(?![A-Za-z0-9_])/g],
  slack: [/\bxox[abposre]-[A-Za-z0-9-]{10,250}/g, /https:\/\/hooks\.slack\.com\/services\/[A-Za-z0-9/_-]{20,200}/g],
  // A whole PEM block; while its END line has not arrived (a stream), the header and the base64
  // so far, so a streamed key is held back and masked as it grows.
  private_key: [
    /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]{0,16384}?-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,.-]{0,16384})/g,
  ],
  jwt: [/\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{16,4096}/g],
  bearer: [/\bbearer\s{1,4}[A-Za-z0-9._~+/-]{20,4096}=*/gi],
};

export function secretPatterns(kinds: readonly SecretKind[]): Pattern[] {
  return kinds.flatMap((k) => PATTERNS[k].map((re) => ({ re, label: 'secrets' })));
}
