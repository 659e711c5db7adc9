// Sextant's analyst web app: sign-in, the classification banners, hash routing between views.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, getToken, setToken, type Me } from './api';
import { Banner, ErrorBox, str } from './components';
import { ChatView } from './views/chat';
import { DocumentsView } from './views/documents';
import { MapView } from './views/map';
import { ReportsView } from './views/reports';
import { CallsView } from './views/calls';
import { AdminView } from './views/admin';
import './styles.css';

const ROUTES = [
  { path: 'chat', label: 'Chat' },
  { path: 'documents', label: 'Documents' },
  { path: 'map', label: 'Map' },
  { path: 'reports', label: 'Reports' },
  { path: 'calls', label: 'Connected systems' },
  { path: 'admin', label: 'Admin', admin: true },
] as const;
type Route = (typeof ROUTES)[number]['path'];

function currentRoute(): Route {
  const h = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return (ROUTES.find((r) => r.path === h)?.path ?? 'chat') as Route;
}

function useRoute(): Route {
  const [r, setR] = useState<Route>(currentRoute());
  useEffect(() => {
    const on = () => setR(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return r;
}

function SignIn({ onSignedIn, error }: { onSignedIn: (me: Me) => void; error: unknown }) {
  const [token, setTok] = useState('');
  const [err, setErr] = useState<unknown>(error);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    setToken(token.trim());
    try {
      onSignedIn(await api<Me>('/v1/me'));
    } catch (ex) {
      setToken('');
      setErr(ex);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="signin" data-testid="signin" tabIndex={-1}>
      <h1>Sign in to Sextant</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          data-testid="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="sxt_…"
          value={token}
          onInput={(e) => setTok((e.target as HTMLInputElement).value)}
        />
        <p class="hint">The token is kept for this browser tab only (sessionStorage). A client certificate the server accepts signs you in without one.</p>
        <button type="submit" class="primary" data-testid="signin-submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
      </form>
      <ErrorBox error={err} />
    </main>
  );
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [checking, setChecking] = useState(true);
  const [authError, setAuthError] = useState<unknown>(null);

  // A stored token, or a client certificate (only over TLS): try /v1/me first. Over plain
  // HTTP without a token the probe could only fail, so the sign-in form shows at once.
  useEffect(() => {
    if (!getToken() && location.protocol !== 'https:') {
      setChecking(false);
      return;
    }
    api<Me>('/v1/me')
      .then(setMe)
      .catch((e) => {
        if (getToken()) {
          setToken('');
          setAuthError(e);
        } else if (!(e instanceof ApiError && (e.status === 401 || e.status === 403))) setAuthError(e);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const label = ROUTES.find((r) => r.path === route)?.label ?? '';
    document.title = me ? `Sextant — ${label}` : 'Sextant';
  }, [route, me]);

  const signOut = () => {
    setToken('');
    setMe(null);
    location.hash = '#/chat';
  };

  let view = null;
  if (me) {
    if (route === 'chat') view = <ChatView />;
    else if (route === 'documents') view = <DocumentsView me={me} />;
    else if (route === 'map') view = <MapView />;
    else if (route === 'reports') view = <ReportsView me={me} />;
    else if (route === 'calls') view = <CallsView />;
    else if (route === 'admin') view = me.admin ? <AdminView /> : <h1>Administrators only</h1>;
  }

  return (
    <div class="shell">
      <header class="topbar">
        <Banner where="top" />
        <a
          class="skip"
          href="#main"
          onClick={(e) => {
            // The hash is the route: move focus instead of navigating.
            e.preventDefault();
            document.getElementById('main')?.focus();
          }}
        >
          Skip to content
        </a>
        <span class="brand">Sextant</span>
        {me ? (
          <nav aria-label="Views">
            <ul>
              {ROUTES.filter((r) => !('admin' in r) || me.admin).map((r) => (
                <li key={r.path}>
                  <a href={'#/' + r.path} data-testid={'nav-' + r.path} aria-current={route === r.path ? 'page' : undefined}>
                    {r.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        {me ? (
          <div class="whoami" data-testid="whoami">
            <span data-testid="me-name">{str(me.name)}</span>
            <span class="meta">
              cleared <span data-testid="me-clearance">{str(me.clearance)}</span>
            </span>
            <span class="meta" data-testid="me-roles">
              {(Array.isArray(me.roles) ? me.roles : []).join(', ')}
            </span>
            <button type="button" onClick={signOut} data-testid="signout">
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      {checking ? (
        <main id="main" tabIndex={-1}>
          <p role="status">Checking your session…</p>
        </main>
      ) : me ? (
        <main id="main" class={'view view-' + route} data-testid={'view-' + route} tabIndex={-1}>
          {view}
        </main>
      ) : (
        <SignIn onSignedIn={setMe} error={authError} />
      )}
      <footer>
        <Banner where="bottom" />
      </footer>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
