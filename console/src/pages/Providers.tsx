import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api';
import { ErrorMessage, Notice } from '../components/Message';
import type { PageProps } from '../types';

interface Provider {
  name: string;
  type: string;
  base_url: string;
  models: string[];
  source: 'config' | 'api';
  has_api_key: boolean;
  api_key_env: string | null;
  timeout_seconds: number;
}

interface ProviderHealth {
  healthy: boolean;
  ejected: boolean;
  circuit_open: boolean;
  reason?: string;
}

const TYPES = ['openai-compatible', 'anthropic', 'google', 'cohere', 'huggingface', 'meta'];
/** How often the health column is refreshed from GET /health. */
const HEALTH_EVERY_MS = 5000;

function healthText(h: ProviderHealth | undefined): string {
  if (!h) return 'unknown';
  if (h.ejected) return 'ejected (outlier detection)';
  if (h.circuit_open) return 'circuit open';
  return h.healthy ? 'healthy' : `unhealthy${h.reason ? `: ${h.reason}` : ''}`;
}

/** A provider's form: adding one (POST) or changing one (PUT, the whole definition: its key is entered again). */
function ProviderForm({ editing, onDone }: { editing: Provider | null; onDone: (message: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const text = (n: string) => String(f.get(n) ?? '').trim();
    const spec: Record<string, unknown> = {
      name: editing?.name ?? text('name'),
      type: text('type'),
      base_url: text('base_url'),
      model_names: text('models')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    };
    if (text('api_key')) spec.api_key = text('api_key');
    else if (text('api_key_env')) spec.api_key_env = text('api_key_env');
    setError(null);
    try {
      if (editing) await api('PUT', `/v1/providers/${encodeURIComponent(editing.name)}`, spec);
      else await api('POST', '/v1/providers', spec);
      form.reset();
      onDone(editing ? `Provider ${spec.name} changed.` : `Provider ${spec.name} added.`);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card grid" onSubmit={submit} key={editing?.name ?? 'new'} aria-labelledby="provider-form-title">
      <h2 id="provider-form-title">{editing ? `Change ${editing.name}` : 'Add a provider'}</h2>
      <label>
        Name <input name="name" defaultValue={editing?.name ?? ''} disabled={!!editing} pattern="[a-z0-9][a-z0-9_\-]{0,62}" required={!editing} />
      </label>
      <label>
        Type
        <select name="type" defaultValue={editing?.type ?? 'openai-compatible'}>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <label>
        Base URL <input name="base_url" type="url" required defaultValue={editing?.base_url ?? ''} />
      </label>
      <label>
        Models (comma-separated, `*` patterns allowed) <input name="models" defaultValue={editing?.models.join(', ') ?? ''} />
      </label>
      <label>
        API key <input name="api_key" type="password" autoComplete="off" />
      </label>
      <label>
        …or the gateway's environment variable holding it <input name="api_key_env" defaultValue={editing?.api_key_env ?? ''} />
      </label>
      <p class="help">The key is stored encrypted and never shown again; a change replaces the whole definition, so enter the key again.</p>
      <div class="actions">
        <button type="submit">{editing ? 'Save provider' : 'Add provider'}</button>
        {editing && (
          <button type="button" class="secondary" onClick={() => onDone('')}>
            Cancel
          </button>
        )}
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

/** Providers (GET /v1/providers) with their live health (GET /health, refreshed every few seconds). */
export function ProvidersPage(_: PageProps) {
  const [providers, setProviders] = useState<Provider[] | null>(null);
  const [health, setHealth] = useState<Record<string, ProviderHealth>>({});
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [editing, setEditing] = useState<Provider | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    get<{ data: Provider[] }>('/v1/providers').then((r) => setProviders(r.data), setError);
  }, [version]);
  useEffect(() => {
    let stopped = false;
    const poll = () =>
      fetch('/health', { cache: 'no-store' })
        .then((r) => r.json() as Promise<{ providers?: Record<string, ProviderHealth> }>)
        .then((h) => !stopped && setHealth(h.providers ?? {}))
        .catch(() => undefined);
    poll();
    const timer = setInterval(poll, HEALTH_EVERY_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [version]);

  const remove = async (name: string) => {
    setConfirming(null);
    try {
      await api('DELETE', `/v1/providers/${encodeURIComponent(name)}`);
      setNotice(`Provider ${name} removed.`);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <Notice text={notice} />
      <ErrorMessage error={error} />
      {providers && (
        <table data-testid="providers-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Base URL</th>
              <th scope="col">Models</th>
              <th scope="col">Key</th>
              <th scope="col">Source</th>
              <th scope="col">Health</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {providers.map((p) => (
              <tr key={p.name} data-provider={p.name}>
                <th scope="row">{p.name}</th>
                <td>{p.type}</td>
                <td>
                  <code>{p.base_url}</code>
                </td>
                <td>{p.models.join(', ') || 'any'}</td>
                <td>{p.api_key_env ? `env ${p.api_key_env}` : p.has_api_key ? 'stored' : 'none'}</td>
                <td>{p.source}</td>
                <td class={`health ${health[p.name]?.healthy ? 'ok' : 'bad'}`} data-testid={`health-${p.name}`}>
                  {healthText(health[p.name])}
                </td>
                <td class="row-actions">
                  {p.source === 'api' ? (
                    <>
                      <button type="button" class="secondary" onClick={() => setEditing(p)} aria-label={`Change ${p.name}`}>
                        Change
                      </button>
                      {confirming === p.name ? (
                        <button type="button" class="danger" onClick={() => remove(p.name)} aria-label={`Confirm removing ${p.name}`}>
                          Confirm remove
                        </button>
                      ) : (
                        <button type="button" class="danger" onClick={() => setConfirming(p.name)} aria-label={`Remove ${p.name}`}>
                          Remove
                        </button>
                      )}
                    </>
                  ) : (
                    <span class="help">from the configuration file</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ProviderForm
        editing={editing}
        onDone={(message) => {
          setEditing(null);
          setNotice(message || null);
          if (message) setVersion((v) => v + 1);
        }}
      />
    </section>
  );
}
