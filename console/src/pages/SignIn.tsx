import { useRef, useState } from 'preact/hooks';
import { signIn, type Session } from '../api';
import { ErrorMessage } from '../components/Message';

/**
 * Sign-in with an admin key or JWT. The credential goes to the gateway once (POST /console/session)
 * and is then dropped from the page: the field is cleared whether the sign-in worked or not.
 */
export function SignIn({ onSignedIn, initialError }: { onSignedIn: (s: Session) => void; initialError?: unknown }) {
  const field = useRef<HTMLInputElement>(null);
  const [error, setError] = useState<unknown>(initialError ?? null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const input = field.current!;
    const credential = input.value.trim();
    input.value = '';
    if (!credential) return setError(new Error('Paste an admin API key or a JWT.'));
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(credential));
    } catch (err) {
      setError(err);
      input.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <h1>LLM Gateway console</h1>
      <form onSubmit={submit} aria-describedby="signin-help">
        <label for="credential">Admin API key or JWT</label>
        <input id="credential" name="credential" type="password" autoComplete="off" spellcheck={false} required ref={field} />
        <p id="signin-help" class="help">
          The credential is checked by the gateway and kept there; this page only holds a session cookie that scripts cannot read.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorMessage error={error} />
      </form>
    </main>
  );
}
