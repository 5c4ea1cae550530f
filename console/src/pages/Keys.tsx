import { useEffect, useRef, useState } from 'preact/hooks';
import { api, get, query } from '../api';
import { ErrorMessage, Notice } from '../components/Message';
import { Pager, useCursorPages } from '../components/Pager';
import { when } from '../format';
import type { Page, PageProps, VirtualKey } from '../types';

const PAGE_SIZE = 20;
const ROLES = ['completion', 'embedding', 'admin'] as const;

/** A limit field's value: empty means no limit (null). */
const limit = (v: FormDataEntryValue | null) => (v === null || String(v).trim() === '' ? null : Number(v));
const list = (v: FormDataEntryValue | null) =>
  String(v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** The secret of a key just created: shown once in a modal dialog, gone from the page when it closes. */
function SecretDialog({ secret, onClose }: { secret: string; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="secret-title" onClose={onClose} class="secret">
      <h2 id="secret-title">Key created</h2>
      <p>Copy the secret now: the gateway shows it this once and never again.</p>
      <output data-testid="new-secret" class="secret-value">
        {secret}
      </output>
      <div class="actions">
        <button
          type="button"
          onClick={() =>
            navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
          Done
        </button>
      </div>
    </dialog>
  );
}

function CreateKey({ team, onCreated }: { team: string | null; onCreated: (secret: string) => void }) {
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const f = new FormData(form);
    const spec: Record<string, unknown> = { roles: ROLES.filter((r) => f.get(`role-${r}`)) };
    for (const name of ['name', 'user', 'team'] as const) if (String(f.get(name) ?? '').trim()) spec[name] = String(f.get(name)).trim();
    for (const name of ['budget_usd', 'token_budget', 'quota_limit'] as const) if (limit(f.get(name)) !== null) spec[name] = limit(f.get(name));
    const models = list(f.get('allowed_models'));
    if (models.length) spec.allowed_models = models;
    setError(null);
    try {
      const created = await api<{ key: string }>('POST', '/v1/keys', spec);
      form.reset();
      onCreated(created.key);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="card grid" onSubmit={submit} aria-labelledby="create-key-title">
      <h2 id="create-key-title">Create a key</h2>
      <label>
        Name <input name="name" maxLength={256} />
      </label>
      <label>
        User <input name="user" maxLength={256} />
      </label>
      <label>
        Team <input name="team" maxLength={256} placeholder={team ?? ''} />
      </label>
      <fieldset>
        <legend>Roles</legend>
        {ROLES.map((r) => (
          <label key={r} class="inline">
            <input type="checkbox" name={`role-${r}`} defaultChecked={r === 'completion'} /> {r}
          </label>
        ))}
      </fieldset>
      <label>
        Budget (USD) <input name="budget_usd" type="number" min="0" step="any" />
      </label>
      <label>
        Token budget <input name="token_budget" type="number" min="0" step="1" />
      </label>
      <label>
        Requests per hour (quota) <input name="quota_limit" type="number" min="0" step="1" />
      </label>
      <label>
        Allowed models (comma-separated) <input name="allowed_models" />
      </label>
      <div class="actions">
        <button type="submit">Create key</button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

function EditLimits({ k, onSaved, onCancel }: { k: VirtualKey; onSaved: () => void; onCancel: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      await api('PATCH', `/v1/keys/${encodeURIComponent(k.id)}`, {
        budget_usd: limit(f.get('budget_usd')),
        token_budget: limit(f.get('token_budget')),
        quota_limit: limit(f.get('quota_limit')),
      });
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label={`Limits of ${k.name ?? k.id}`}>
      <label>
        Budget (USD) <input name="budget_usd" type="number" min="0" step="any" defaultValue={k.budget_usd === null ? '' : String(k.budget_usd)} />
      </label>
      <label>
        Token budget <input name="token_budget" type="number" min="0" step="1" defaultValue={k.token_budget === null ? '' : String(k.token_budget)} />
      </label>
      <label>
        Quota <input name="quota_limit" type="number" min="0" step="1" defaultValue={k.quota_limit === null ? '' : String(k.quota_limit)} />
      </label>
      <button type="submit">Save limits</button>
      <button type="button" class="secondary" onClick={onCancel}>
        Cancel
      </button>
      <ErrorMessage error={error} />
    </form>
  );
}

/** Keys of the caller's reach (a team admin: its team's, as the API allows), a page at a time from the gateway. */
export function KeysPage({ session }: PageProps) {
  const pages = useCursorPages();
  const [keys, setKeys] = useState<Page<VirtualKey> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const reload = () => setVersion((v) => v + 1);

  useEffect(() => {
    get<Page<VirtualKey>>(`/v1/keys${query({ limit: PAGE_SIZE, after: pages.cursor })}`).then(setKeys, setError);
  }, [pages.cursor, version]);

  const revoke = async (k: VirtualKey) => {
    setConfirming(null);
    try {
      await api('DELETE', `/v1/keys/${encodeURIComponent(k.id)}`);
      setNotice(`Key ${k.name ?? k.id} revoked.`);
      reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section>
      <CreateKey
        team={session.team}
        onCreated={(s) => {
          setSecret(s);
          setNotice(null);
          pages.reset();
          reload();
        }}
      />
      {secret !== null && <SecretDialog secret={secret} onClose={() => setSecret(null)} />}
      <Notice text={notice} />
      <ErrorMessage error={error} />
      <h2>Keys</h2>
      {keys && keys.data.length === 0 && <p class="empty">No keys.</p>}
      {keys && keys.data.length > 0 && (
        <table data-testid="keys-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Id / prefix</th>
              <th scope="col">User</th>
              <th scope="col">Team</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Limits</th>
              <th scope="col">Created</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.data.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <th scope="row">{k.name ?? '—'}</th>
                <td>
                  <code>{k.id}</code>
                  <br />
                  <code>{k.prefix}</code>
                </td>
                <td>{k.user ?? '—'}</td>
                <td>{k.team ?? '—'}</td>
                <td>{k.roles.join(', ')}</td>
                <td class={`status-${k.status}`}>{k.status}</td>
                <td>
                  {editing === k.id ? (
                    <EditLimits
                      k={k}
                      onCancel={() => setEditing(null)}
                      onSaved={() => {
                        setEditing(null);
                        setNotice(`Limits of ${k.name ?? k.id} saved.`);
                        reload();
                      }}
                    />
                  ) : (
                    <span>
                      budget {k.budget_usd ?? '∞'} USD · tokens {k.token_budget ?? '∞'} · quota {k.quota_limit ?? '∞'}
                    </span>
                  )}
                </td>
                <td>{when(k.created_at)}</td>
                <td class="row-actions">
                  {k.status === 'active' && k.source === 'api' && editing !== k.id && (
                    <button type="button" class="secondary" onClick={() => setEditing(k.id)} aria-label={`Edit limits of ${k.name ?? k.id}`}>
                      Edit limits
                    </button>
                  )}
                  {k.status === 'active' &&
                    (confirming === k.id ? (
                      <>
                        <button type="button" class="danger" onClick={() => revoke(k)} aria-label={`Confirm revoking ${k.name ?? k.id}`}>
                          Confirm revoke
                        </button>
                        <button type="button" class="secondary" onClick={() => setConfirming(null)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <button type="button" class="danger" onClick={() => setConfirming(k.id)} aria-label={`Revoke ${k.name ?? k.id}`}>
                        Revoke
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {keys && (
        <Pager label="Keys" page={pages.page} hasMore={!!keys.has_more} onPrevious={pages.previous} onNext={() => keys.last_id && pages.next(keys.last_id)} />
      )}
    </section>
  );
}
