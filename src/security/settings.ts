import type { SecuritySettings, SettingsProblem } from '../plugins/types';

export type SettingsValidator = (s: SecuritySettings) => SettingsProblem | undefined;

/**
 * The runtime security settings (content filtering, audit logging, data isolation and the
 * content filter rule sets). Plugins read `current()` on every request, so a change applies to
 * the next request. Plugins that own part of the settings (the content filter's rule sets)
 * register a validator; `replace` refuses settings any validator rejects, naming the problem.
 */
export class SettingsService {
  private value: SecuritySettings;
  private readonly validators: SettingsValidator[] = [];
  private readonly listeners: ((s: SecuritySettings) => void)[] = [];

  constructor(initial: SecuritySettings) {
    this.value = Object.freeze(structuredClone(initial));
  }

  current(): SecuritySettings {
    return this.value;
  }

  addValidator(v: SettingsValidator): void {
    this.validators.push(v);
  }

  onChange(listener: (s: SecuritySettings) => void): void {
    this.listeners.push(listener);
  }

  validate(next: SecuritySettings): SettingsProblem | undefined {
    for (const v of this.validators) {
      const problem = v(next);
      if (problem) return problem;
    }
    return undefined;
  }

  /** Applies validated settings (from the API, or another replica's change read from the store). */
  replace(next: SecuritySettings): SettingsProblem | undefined {
    const problem = this.validate(next);
    if (problem) return problem;
    this.value = Object.freeze(structuredClone(next));
    for (const l of this.listeners) l(this.value);
    return undefined;
  }
}
