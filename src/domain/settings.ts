import type { JsonValue } from './json';

/** Runtime security settings, changed through GET/PUT /v1/security/config; the same on every replica. */
export interface SecuritySettings {
  content_filtering_enabled: boolean;
  audit_logging_enabled: boolean;
  data_isolation_enabled: boolean;
  /** Content filter rule sets; their shape is owned (and validated) by the content filter. */
  content_filters: JsonValue[];
}

export interface SettingsProblem {
  /** The setting at fault, e.g. `content_filters[2].rules[0].pattern`. */
  param: string;
  message: string;
}

/** One append-only audit record. Never put a secret or offending content in it. */
export interface AuditEvent {
  /** e.g. `key.created`, `provider.removed`, `security_config.changed`, `request.blocked`. */
  action: string;
  outcome: 'success' | 'failure' | 'denied';
  target?: string;
  actor?: { keyId?: string; identity?: string; team?: string };
  requestId?: string;
  details?: Record<string, JsonValue>;
}
