// Administration: users (add shows the new token once), the audit log with filters and its
// chain verification, and the system status.
import { Fragment } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { CopyButton, ErrorBox, Mark, Spinner, str } from '../components';
import { LEVELS } from '../marking';

interface User {
  name: string;
  clearance: string;
  sci?: string[];
  citizenship?: string;
  roles: string[];
}
const ROLES = ['reader', 'ingester', 'admin'];

function Users() {
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [clearance, setClearance] = useState('UNCLASSIFIED');
  const [roles, setRoles] = useState<string[]>(['reader']);
  const [sci, setSci] = useState('');
  const [citizenship, setCitizenship] = useState('USA');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const load = () =>
    api<{ users: User[] }>('/v1/users').then(
      (r) => setUsers(Array.isArray(r?.users) ? r.users : []),
      setError,
    );
  useEffect(() => {
    load();
  }, []);
  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const r = await api<{ name: string; token: string }>('/v1/users', {
        body: {
          name: name.trim(),
          clearance,
          roles,
          sci: sci
            .split(/[\s,]+/)
            .map((x) => x.trim().toUpperCase())
            .filter(Boolean),
          citizenship: citizenship.trim().toUpperCase() || 'USA',
        },
      });
      setCreated(r);
      setName('');
      load();
    } catch (ex) {
      setError(ex);
    } finally {
      setBusy(false);
    }
  };
  const remove = async (n: string) => {
    setError(null);
    try {
      await api('/v1/users/' + encodeURIComponent(n), { method: 'DELETE' });
      setConfirming(null);
      load();
    } catch (ex) {
      setError(ex);
    }
  };
  return (
    <section class="card" aria-labelledby="users-h" data-testid="users">
      <h2 id="users-h">Users</h2>
      <ErrorBox error={error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Users table">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Clearance</th>
              <th scope="col">SCI</th>
              <th scope="col">Citizenship</th>
              <th scope="col">Roles</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.name} data-testid="user-row" data-name={u.name}>
                <td>{str(u.name)}</td>
                <td>{str(u.clearance)}</td>
                <td>{(Array.isArray(u.sci) ? u.sci : []).join(', ')}</td>
                <td>{str(u.citizenship)}</td>
                <td>{(Array.isArray(u.roles) ? u.roles : []).join(', ')}</td>
                <td>
                  {confirming === u.name ? (
                    <>
                      <button type="button" class="danger" onClick={() => remove(u.name)} data-testid="user-remove-confirm">
                        Really remove
                      </button>
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button type="button" onClick={() => setConfirming(u.name)} aria-label={`Remove ${str(u.name)}`} data-testid="user-remove">
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form onSubmit={add} class="add-user" aria-label="Add a user">
        <h3>Add a user</h3>
        <div class="row">
          <span class="field-inline">
            <label for="user-name">Name</label>
            <input id="user-name" data-testid="user-name" value={name} autocomplete="off" onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          </span>
          <span class="field-inline">
            <label for="user-clearance">Clearance</label>
            <select id="user-clearance" data-testid="user-clearance" value={clearance} onChange={(e) => setClearance((e.target as HTMLSelectElement).value)}>
              {LEVELS.map((l) => (
                <option value={l} key={l}>
                  {l}
                </option>
              ))}
            </select>
          </span>
          <span class="field-inline">
            <label for="user-sci">SCI controls</label>
            <input id="user-sci" data-testid="user-sci" value={sci} placeholder="SI, TK" onInput={(e) => setSci((e.target as HTMLInputElement).value)} />
          </span>
          <span class="field-inline">
            <label for="user-citizenship">Citizenship</label>
            <input id="user-citizenship" data-testid="user-citizenship" value={citizenship} size={5} onInput={(e) => setCitizenship((e.target as HTMLInputElement).value)} />
          </span>
          <fieldset class="inline">
            <legend>Roles</legend>
            {ROLES.map((r) => (
              <label key={r} class="radio">
                <input
                  type="checkbox"
                  checked={roles.includes(r)}
                  data-testid={'user-role-' + r}
                  onChange={(e) => {
                    const on = (e.target as HTMLInputElement).checked;
                    setRoles((rs) => (on ? [...rs.filter((x) => x !== r), r] : rs.filter((x) => x !== r)));
                  }}
                />{' '}
                {r}
              </label>
            ))}
          </fieldset>
          <button type="submit" class="primary" data-testid="user-add" disabled={busy || !name.trim()}>
            Add
          </button>
        </div>
      </form>
      {created ? (
        <div class="token-once" data-testid="new-token" role="status">
          <p>
            Token for <strong>{str(created.name)}</strong>, shown only now:
          </p>
          <code data-testid="new-token-value">{str(created.token)}</code> <CopyButton text={() => str(created.token)} label="Copy token" testid="copy-token" />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      ) : null}
    </section>
  );
}

function Audit() {
  const [records, setRecords] = useState<any[]>([]);
  const [n, setN] = useState(200);
  const [user, setUser] = useState('');
  const [action, setAction] = useState('');
  const [verify, setVerify] = useState<{ ok: boolean; records: number; error: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ records: any[] }>(`/v1/audit?n=${n}`);
      setRecords(Array.isArray(r?.records) ? r.records : []);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const check = async () => {
    try {
      setVerify(await api('/v1/audit/verify'));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load();
    check();
  }, []);
  const users = useMemo(() => [...new Set(records.map((r) => str(r.user)))].sort(), [records]);
  const actions = useMemo(() => [...new Set(records.map((r) => str(r.action)))].sort(), [records]);
  const shown = records.filter((r) => (!user || str(r.user) === user) && (!action || str(r.action) === action)).reverse();
  return (
    <section class="card" aria-labelledby="audit-h" data-testid="audit">
      <h2 id="audit-h">Audit log</h2>
      {verify ? (
        <p class={verify.ok ? 'ok' : 'error'} data-testid="audit-verify" data-ok={String(verify.ok)} role="status">
          {verify.ok ? `Chain verified: ${verify.records} records intact.` : `Chain broken after ${verify.records} records: ${str(verify.error)}`}
        </p>
      ) : null}
      <div class="row filters">
        <span class="field-inline">
          <label for="audit-user">User</label>
          <select id="audit-user" data-testid="audit-user" value={user} onChange={(e) => setUser((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {users.map((u) => (
              <option value={u} key={u}>
                {u}
              </option>
            ))}
          </select>
        </span>
        <span class="field-inline">
          <label for="audit-action">Action</label>
          <select id="audit-action" data-testid="audit-action" value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            {actions.map((a) => (
              <option value={a} key={a}>
                {a}
              </option>
            ))}
          </select>
        </span>
        <span class="field-inline">
          <label for="audit-n">Newest</label>
          <input id="audit-n" type="number" min={1} max={10000} value={n} onInput={(e) => setN(Number((e.target as HTMLInputElement).value) || 100)} />
        </span>
        <button type="button" onClick={load} data-testid="audit-reload">
          Reload
        </button>
        <button type="button" onClick={check} data-testid="audit-verify-run">
          Verify chain
        </button>
      </div>
      <ErrorBox error={error} />
      {busy ? <Spinner label="Loading…" /> : null}
      <p class="meta">
        {shown.length} of {records.length} records (newest first)
      </p>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Audit records table">
        <table class="audit-table" data-testid="audit-table">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">User</th>
              <th scope="col">Action</th>
              <th scope="col">Outcome</th>
              <th scope="col">Marking</th>
              <th scope="col">Query / detail</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              <tr key={str(r.seq) + ':' + i} data-testid="audit-row">
                <td>{str(r.seq)}</td>
                <td>{str(r.time)}</td>
                <td>{str(r.user)}</td>
                <td>{str(r.action)}</td>
                <td>{str(r.outcome)}</td>
                <td>{r.marking ? <Mark marking={str(r.marking)} testid="audit-mark" /> : null}</td>
                <td class="detail">
                  {r.query ? <q>{str(r.query)}</q> : null} {str(r.detail)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function SystemStatus() {
  const [s, setS] = useState<any>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api('/v1/status').then(setS, setError);
  }, []);
  // Every plain figure the server reports, by name (the list grows with the server).
  const figures: [string, unknown][] = s && typeof s === 'object' ? Object.entries(s).filter(([k, v]) => k !== 'models' && (v === null || typeof v !== 'object')) : [];
  const nested: [string, unknown][] = s?.rate_limits && typeof s.rate_limits === 'object' ? Object.entries(s.rate_limits) : [];
  return (
    <section class="card" aria-labelledby="sys-h" data-testid="system-status">
      <h2 id="sys-h">System</h2>
      <ErrorBox error={error} />
      {s ? (
        <>
          <dl class="kv stats">
            {[...figures, ...nested].map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k.replace(/_/g, ' ')}</dt>
                <dd>{v === null ? 'none' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : str(v)}</dd>
              </Fragment>
            ))}
          </dl>
          <h3>Models</h3>
          <ul>
            {(Array.isArray(s.models) ? s.models : []).map((m: any, i: number) => (
              <li key={i}>
                {str(m.name)} <span class="meta">({str(m.kind)}{m.loaded ? ', loaded' : ', not loaded'}{m.default ? ', default' : ''})</span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

export function AdminView() {
  return (
    <div class="admin-layout">
      <h1>Administration</h1>
      <div class="admin-top">
        <Users />
        <SystemStatus />
      </div>
      <Audit />
    </div>
  );
}
