import type { Pattern } from '../patterns';

/**
 * Injection phrases. Whitespace between words is `\s{1,8}` rather than `\s+` so every
 * pattern stays bounded; word lists are alternations of literals.
 */

const S = '\\s{1,8}';
const phrase = (source: string) => new RegExp(source.replace(/ /g, S), 'gi');

/** SQL injection: tautologies, stacked statements, UNION probes, time-based and comment tricks. */
export const SQL_INJECTION: Pattern[] = [
  /\bunion\s{1,8}(?:all\s{1,8})?select\b/gi,
  /['"`]\s{0,8}(?:or|and)\s{1,8}['"`]?\w{1,20}['"`]?\s{0,8}=\s{0,8}['"`]?\w{1,20}/gi,
  /\bor\s{1,8}(\d{1,6})\s{0,4}=\s{0,4}\1\b/gi,
  /;\s{0,8}(?:drop|truncate|alter)\s{1,8}(?:table|database|schema)\b/gi,
  /;\s{0,8}(?:delete\s{1,8}from|insert\s{1,8}into|update\s{1,8}\w{1,64}\s{1,8}set|shutdown|exec(?:ute)?\s)/gi,
  // admin'-- : a quote closed straight into a comment.
  /\w['"`]\)?(?:--|\/\*)/g,
  /\b(?:sleep|pg_sleep|benchmark)\s{0,4}\(\s{0,4}\d/gi,
  /\bwaitfor\s{1,8}delay\s{1,8}'/gi,
  /\b(?:exec(?:ute)?\s{1,8})?xp_cmdshell\b/gi,
  /\binformation_schema\.(?:tables|columns|schemata)\b/gi,
  /\b(?:load_file\s{0,4}\(|into\s{1,8}(?:out|dump)file\b)/gi,
].map((re) => ({ re, label: 'sql_injection' }));

const PREVIOUS = '(?:previous|prior|above|earlier|preceding|original|initial|system|developer)';
const INSTRUCTIONS = '(?:instructions?|prompts?|rules|directions|guidelines|messages?|context|constraints)';

/** Common jailbreak and prompt-injection phrasings. */
export const PROMPT_INJECTION: Pattern[] = [
  phrase(`\\b(?:ignore|disregard|forget|override|bypass) (?:(?:all|any|the|your|my|of|these|those) ){0,3}${PREVIOUS} ${INSTRUCTIONS}\\b`),
  phrase(`\\b(?:you are now|act as|pretend (?:to be|you are)) (?:an? )?(?:DAN|unrestricted|unfiltered|uncensored|jailbroken|evil)\\b`),
  phrase('\\bdo anything now\\b'),
  phrase('\\b(?:developer|god|jailbreak|DAN) mode (?:enabled|activated|on)\\b'),
  phrase('\\b(?:enable|activate|enter) (?:developer|god|jailbreak|DAN) mode\\b'),
  phrase(
    `\\b(?:reveal|show|print|repeat|output|display|leak|tell me) (?:me )?(?:your|the) (?:(?:full|entire|hidden|secret|original|initial) ){0,2}(?:system prompt|system message|hidden prompt|${PREVIOUS} instructions)\\b`,
  ),
  phrase('\\b(?:without|ignoring|bypass|bypassing|disable|disabling) (?:any |all |your |the )?(?:safety|content|ethical|moral) (?:filters?|guidelines|restrictions|policies|rules)\\b'),
  phrase('\\bno longer bound by (?:any |your )?(?:rules|guidelines|policies|restrictions)\\b'),
].map((re) => ({ re, label: 'prompt_injection' }));
