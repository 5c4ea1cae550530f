import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, get } from '../api';
import { ErrorMessage, Notice } from '../components/Message';
import type { PageProps } from '../types';

interface Settings {
  content_filtering_enabled: boolean;
  audit_logging_enabled: boolean;
  data_isolation_enabled: boolean;
  content_filters: unknown[];
}

const TOGGLES: { name: keyof Settings; label: string; help: string }[] = [
  { name: 'content_filtering_enabled', label: 'Content filtering', help: 'Apply the content filter rules below to requests and responses.' },
  { name: 'audit_logging_enabled', label: 'Audit logging', help: 'Record admin actions and blocked requests in the audit log.' },
  { name: 'data_isolation_enabled', label: 'Data isolation', help: 'Keys and team admins see only their own team’s usage, keys and audit records.' },
];

/**
 * The security settings (GET/PUT /v1/security/config). The gateway validates every change (the
 * content filter checks its rule sets) and its message, naming the setting at fault, is shown as is.
 */
export function SecurityPage(_: PageProps) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [rules, setRules] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const show = (s: Settings) => {
    setSettings(s);
    setRules(JSON.stringify(s.content_filters, null, 2));
  };
  useEffect(() => {
    get<Settings>('/v1/security/config').then(show, setError);
  }, []);

  const save = async (change: Partial<Settings>, what: string) => {
    setError(null);
    setNotice(null);
    try {
      show(await api<Settings>('PUT', '/v1/security/config', change));
      setNotice(`${what} saved.`);
    } catch (err) {
      setError(err);
    }
  };
  const saveRules = (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(rules);
    } catch (err) {
      return setError(new ApiError(400, `The rules are not valid JSON: ${(err as Error).message}`, 'invalid_json', 'content_filters'));
    }
    save({ content_filters: parsed as unknown[] }, 'Content filter rules');
  };

  if (!settings) return <ErrorMessage error={error} />;
  return (
    <section>
      <Notice text={notice} />
      <ErrorMessage error={error} />
      <fieldset class="card">
        <legend>Settings</legend>
        {TOGGLES.map((t) => (
          <div class="toggle" key={t.name}>
            <label>
              <input
                type="checkbox"
                name={t.name}
                checked={settings[t.name] as boolean}
                onChange={(e) => save({ [t.name]: (e.target as HTMLInputElement).checked }, t.label)}
                aria-describedby={`${t.name}-help`}
              />{' '}
              {t.label}
            </label>
            <p class="help" id={`${t.name}-help`}>
              {t.help}
            </p>
          </div>
        ))}
      </fieldset>
      <form class="card" onSubmit={saveRules}>
        <label for="content-filters">Content filter rule sets (JSON, see docs/content-filtering.md)</label>
        <textarea id="content-filters" name="content_filters" rows={14} spellcheck={false} value={rules} onInput={(e) => setRules((e.target as HTMLTextAreaElement).value)} />
        <div class="actions">
          <button type="submit">Save rules</button>
        </div>
      </form>
    </section>
  );
}
