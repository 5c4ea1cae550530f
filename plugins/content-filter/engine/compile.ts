import type { SecuritySettings, SettingsProblem } from '../../../src/domain';
import type { DetectorLimits } from './detectors';
import type { Detector } from './patterns';
import { parseContentFilters, type Action } from './spec';

/**
 * What a rule looks at when its `paths` are not given: chat messages, completions prompts and
 * the Responses API's `input` (messages, tool outputs) and `instructions` (its system message).
 */
export const DEFAULT_REQUEST_PATHS = ['$.messages[*].content', '$.prompt', '$.input', '$.instructions'];
export const DEFAULT_RESPONSE_PATHS = ['$.choices[*].message.content', '$.choices[*].text', '$.output[*].content'];

export interface CompiledRule {
  readonly name: string;
  /** The rule set it belongs to. */
  readonly set: string;
  readonly action: Action;
  /** JSONPath expressions for requests; empty when the rule does not apply to requests. */
  readonly requestPaths: readonly string[];
  readonly responsePaths: readonly string[];
  readonly detectors: readonly Detector[];
  /** The replacement text for a match with this label (`email`, `secrets`, ...). */
  mask(label: string): string;
}

export interface CompiledFilters {
  readonly request: readonly CompiledRule[];
  readonly response: readonly CompiledRule[];
}

export const EMPTY_FILTERS: CompiledFilters = { request: [], response: [] };

function maskFor(template: string | undefined): (label: string) => string {
  if (template === undefined) return (label) => `[REDACTED:${label}]`;
  return template.includes('{detector}') ? (label) => template.split('{detector}').join(label) : () => template;
}

/** Compiles validated rule sets: disabled sets are left out, rules are split by direction. */
export function compileFilters(value: unknown, limits: DetectorLimits): { ok: true; filters: CompiledFilters } | { ok: false; problem: SettingsProblem } {
  const parsed = parseContentFilters(value, limits);
  if (!parsed.ok) return parsed;
  const request: CompiledRule[] = [];
  const response: CompiledRule[] = [];
  for (const set of parsed.sets) {
    if (!set.enabled) continue;
    for (const r of set.rules) {
      const inRequests = r.target !== 'response';
      const inResponses = r.target !== 'request';
      const rule: CompiledRule = {
        name: r.name,
        set: set.name,
        action: r.action,
        requestPaths: inRequests ? (r.paths ?? DEFAULT_REQUEST_PATHS) : [],
        responsePaths: inResponses ? (r.paths ?? DEFAULT_RESPONSE_PATHS) : [],
        detectors: r.compiled,
        mask: maskFor(r.mask),
      };
      if (inRequests) request.push(rule);
      if (inResponses) response.push(rule);
    }
  }
  return { ok: true, filters: request.length || response.length ? { request, response } : EMPTY_FILTERS };
}

/**
 * The compiled rules for a settings object. Settings objects are immutable and replaced as a
 * whole on every change, so identity is the cache key: rules compile once per change.
 */
export class FilterCache {
  private readonly bySettings = new WeakMap<SecuritySettings, CompiledFilters>();

  constructor(private readonly limits: DetectorLimits) {}

  /** Throws when the rules are invalid; settings only get here after validation. */
  get(settings: SecuritySettings): CompiledFilters {
    let filters = this.bySettings.get(settings);
    if (!filters) {
      const compiled = compileFilters(settings.content_filters, this.limits);
      if (!compiled.ok) throw new Error(`content filter rules are invalid at ${compiled.problem.param}: ${compiled.problem.message}`);
      filters = compiled.filters;
      this.bySettings.set(settings, filters);
    }
    return filters;
  }

  validate(settings: SecuritySettings): SettingsProblem | undefined {
    const compiled = compileFilters(settings.content_filters, this.limits);
    return compiled.ok ? undefined : compiled.problem;
  }
}
