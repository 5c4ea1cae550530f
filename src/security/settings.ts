import type { Logger } from '../observability/logger';
import type { SecuritySettings, SettingsProblem } from '../domain';
import { StoreConflictError, type SettingsStore } from '../store/types';

export type SettingsValidator = (s: SecuritySettings) => SettingsProblem | undefined;

/** The settings the core knows, with the JSON type each must have. */
const FIELDS: Readonly<Record<keyof SecuritySettings, 'boolean' | 'array'>> = {
  content_filtering_enabled: 'boolean',
  audit_logging_enabled: 'boolean',
  data_isolation_enabled: 'boolean',
  content_filters: 'array',
};

/** The shape every settings object must have, before plugins check the parts they own. */
export function settingsShapeProblem(s: unknown): SettingsProblem | undefined {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return { param: 'settings', message: 'must be a JSON object of settings' };
  for (const key of Object.keys(s)) {
    // Own names only: `key in FIELDS` would take `__proto__` or `toString` for settings.
    if (!Object.hasOwn(FIELDS, key)) return { param: key, message: `unknown setting; known settings: ${Object.keys(FIELDS).join(', ')}` };
  }
  for (const [key, type] of Object.entries(FIELDS)) {
    const v = (s as Record<string, unknown>)[key];
    if (v === undefined) return { param: key, message: 'is required' };
    if (type === 'boolean' ? typeof v !== 'boolean' : !Array.isArray(v)) return { param: key, message: `must be ${type === 'boolean' ? 'a boolean' : 'an array'}` };
  }
  return undefined;
}

/** Only the settings this gateway knows: a newer replica may store more. */
function known(s: Record<string, unknown>): Partial<SecuritySettings> {
  return Object.fromEntries(Object.entries(s).filter(([k]) => Object.hasOwn(FIELDS, k))) as Partial<SecuritySettings>;
}

export type SettingsUpdate = { ok: true; previous: SecuritySettings; value: SecuritySettings; version: number } | { ok: false; problem: SettingsProblem };

/**
 * The runtime security settings (content filtering, audit logging, data isolation and the
 * content filter rule sets). Plugins read `current()` on every request, so a change applies to
 * the next request. Plugins that own part of the settings (the content filter's rule sets)
 * register a validator; settings any validator rejects are refused, naming the problem.
 *
 * With a store attached the settings are shared by every replica: the configuration's
 * `security:` section is only the initial value when nothing is stored yet, a change made here
 * is stored (optimistically versioned) and applied here at once, and changes made by other
 * replicas are picked up by polling the stored version (about once a second).
 */
export class SettingsService {
  private value: SecuritySettings;
  private readonly validators: SettingsValidator[] = [];
  private readonly listeners: ((s: SecuritySettings) => void)[] = [];
  private store: SettingsStore | undefined;
  private log: Logger | undefined;
  /** The stored version `value` came from (0: not stored, or no store). */
  private appliedVersion = 0;
  private poller: NodeJS.Timeout | undefined;
  private polling: Promise<boolean> | undefined;
  private storeFailing = false;
  private stopped = false;

  constructor(private readonly initial: SecuritySettings) {
    this.value = Object.freeze(structuredClone(initial));
  }

  current(): SecuritySettings {
    return this.value;
  }

  /** The stored version in force here (0 before anything was stored). */
  get version(): number {
    return this.appliedVersion;
  }

  addValidator(v: SettingsValidator): void {
    this.validators.push(v);
  }

  onChange(listener: (s: SecuritySettings) => void): void {
    this.listeners.push(listener);
  }

  validate(next: SecuritySettings): SettingsProblem | undefined {
    const shape = settingsShapeProblem(next);
    if (shape) return shape;
    for (const v of this.validators) {
      let problem: SettingsProblem | undefined;
      try {
        problem = v(next);
      } catch (err) {
        problem = { param: 'settings', message: `could not be validated: ${(err as Error).message}` };
      }
      if (problem) return problem;
    }
    return undefined;
  }

  /** Applies validated settings here only (no store): tests, and settings read from the store. */
  replace(next: SecuritySettings): SettingsProblem | undefined {
    const problem = this.validate(next);
    if (problem) return problem;
    this.apply(next);
    return undefined;
  }

  private apply(next: SecuritySettings, version?: number): void {
    this.value = Object.freeze(structuredClone(next));
    if (version !== undefined) this.appliedVersion = version;
    for (const l of this.listeners) l(this.value);
  }

  /**
   * Shares the settings through `store`: applies what is stored (or stores the initial settings
   * when nothing is), then follows the store every `pollMs`. Call after plugins have registered
   * their validators.
   */
  async attach(store: SettingsStore, log: Logger, pollMs = 1000): Promise<void> {
    this.store = store;
    this.log = log;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.refresh()) break;
      if (this.appliedVersion > 0) break;
      try {
        this.appliedVersion = await store.put(this.value, 0);
        log.info({ version: this.appliedVersion }, 'security settings stored from the configuration');
        break;
      } catch (err) {
        // Another replica stored its settings first: take those.
        if (!(err instanceof StoreConflictError)) throw err;
      }
    }
    this.poller = setInterval(() => void this.refresh(), pollMs);
    this.poller.unref();
  }

  /** Reads the store once and applies a newer version; true when one was applied. */
  refresh(): Promise<boolean> {
    this.polling ??= (async () => {
      try {
        const stored = await this.store?.get();
        if (this.storeFailing) this.log?.info('security settings store reachable again');
        this.storeFailing = false;
        if (!stored || stored.version <= this.appliedVersion) return false;
        // Stored settings are completed with the configured ones (settings a newer gateway
        // added, or an older one lacked) and must pass this replica's validators.
        const next = { ...this.initial, ...known(stored.value as unknown as Record<string, unknown>) } as SecuritySettings;
        const problem = this.validate(next);
        if (problem) {
          // Keep what is in force; a later version (or a PUT here, which overwrites it) is retried.
          this.appliedVersion = stored.version;
          this.log?.error({ version: stored.version, param: problem.param, problem: problem.message }, 'stored security settings are invalid here; keeping the settings in force');
          return false;
        }
        this.apply(next, stored.version);
        this.log?.info({ version: stored.version }, 'security settings applied from the store');
        return true;
      } catch (err) {
        // A poll cut short by shutdown (the store closing) is not an outage worth a warning.
        if (!this.storeFailing && !this.stopped) this.log?.warn({ err: { message: (err as Error).message } }, 'security settings store unreachable; keeping the settings in force');
        this.storeFailing = true;
        return false;
      } finally {
        this.polling = undefined;
      }
    })();
    return this.polling;
  }

  /**
   * Changes the settings: `change` gets the settings in force and returns the new ones, which
   * are validated, stored and applied here before this resolves (so the next request sees
   * them). A concurrent change on another replica makes it start again from that one's
   * settings, so partial updates never undo each other.
   */
  async update(change: (current: SecuritySettings) => unknown): Promise<SettingsUpdate> {
    for (let attempt = 0; ; attempt++) {
      const previous = this.value;
      const next = change(previous) as SecuritySettings;
      const problem = this.validate(next);
      if (problem) return { ok: false, problem };
      if (!this.store) {
        this.apply(next);
        return { ok: true, previous, value: this.value, version: 0 };
      }
      try {
        const version = await this.store.put(next, this.appliedVersion);
        this.apply(next, version);
        return { ok: true, previous, value: this.value, version };
      } catch (err) {
        if (!(err instanceof StoreConflictError) || attempt >= 4) throw err;
        await this.refresh();
      }
    }
  }

  /** Stops following the store. */
  stop(): void {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }
}
