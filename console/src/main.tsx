import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentSession, onSignedOut, signOut, type Session } from './api';
import { ErrorMessage } from './components/Message';
import { AuditPage } from './pages/Audit';
import { KeysPage } from './pages/Keys';
import { OverviewPage } from './pages/Overview';
import { ProvidersPage } from './pages/Providers';
import { SecurityPage } from './pages/Security';
import { SignIn } from './pages/SignIn';
import { UsagePage } from './pages/Usage';
import './styles.css';

const PAGES = {
  overview: { title: 'Overview', Page: OverviewPage },
  usage: { title: 'Usage', Page: UsagePage },
  keys: { title: 'Keys', Page: KeysPage },
  providers: { title: 'Providers', Page: ProvidersPage },
  security: { title: 'Security', Page: SecurityPage },
  audit: { title: 'Audit log', Page: AuditPage },
} as const;
type PageName = keyof typeof PAGES;

/** The page named in the URL's fragment (`#/keys`); the overview otherwise. */
function pageFromHash(): PageName {
  const name = location.hash.replace(/^#\/?/, '');
  return Object.hasOwn(PAGES, name) ? (name as PageName) : 'overview';
}

function App() {
  // undefined: not known yet (asking the gateway); null: signed out.
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [page, setPage] = useState<PageName>(pageFromHash());
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    currentSession().then(setSession, (err) => {
      setError(err);
      setSession(null);
    });
    const ended = onSignedOut(() => setSession(null));
    const follow = () => setPage(pageFromHash());
    window.addEventListener('hashchange', follow);
    return () => {
      ended();
      window.removeEventListener('hashchange', follow);
    };
  }, []);

  useEffect(() => {
    document.title = session ? `${PAGES[page].title} · LLM Gateway` : 'Sign in · LLM Gateway';
  }, [page, session]);

  if (session === undefined) return <p class="loading">Loading the console…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} initialError={error} />;
  const { Page, title } = PAGES[page];
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <strong class="brand">LLM Gateway</strong>
        <nav aria-label="Console pages">
          <ul>
            {(Object.keys(PAGES) as PageName[]).map((name) => (
              <li key={name}>
                <a href={`#/${name}`} aria-current={name === page ? 'page' : undefined}>
                  {PAGES[name].title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who" data-testid="who">
          {session.identity ?? 'admin'}
          {session.team ? ` · team ${session.team}` : ''}
        </span>
        <button
          type="button"
          class="secondary"
          onClick={async () => {
            await signOut();
            setSession(null);
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        <ErrorMessage error={error} />
        <Page session={session} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
