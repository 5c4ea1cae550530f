/**
 * The content filter engine: rule sets (JSONPath selections + detectors + an action) compiled
 * from the security settings, applied to JSON bodies and to streamed text. The plugin in
 * plugins/content-filter wires it to requests; see docs/content-filtering.md.
 */
export { compileFilters, FilterCache, EMPTY_FILTERS, DEFAULT_REQUEST_PATHS, DEFAULT_RESPONSE_PATHS } from './compile';
export type { CompiledFilters, CompiledRule } from './compile';
export { parseContentFilters } from './spec';
export type { Action, Target, RuleSpec, RuleSetSpec } from './spec';
export { buildDetector, DETECTOR_TYPES, BUILTIN_DETECTORS, PII_KINDS, SECRET_KINDS } from './detectors';
export type { DetectorSpec } from './detectors';
export { filterBody } from './body';
export type { BodyOutcome } from './body';
export { StreamFilter, TextWindow } from './stream';
export type { StreamLimits } from './stream';
export { scanText, maskText } from './scan';
export type { RuleFinding, ScanLimits } from './scan';
export type { Finding } from './patterns';
export { ResponsesStreamFilter } from './responses-stream';
export type { ResponsesEventResult } from './responses-stream';
