// Connected systems: a request in plain words (POST /v1/act) shows the call and its cited
// result; a changing call waits as a confirmation card; the user's calls are listed.
import { useEffect, useState } from 'preact/hooks';
import { api, listModels, type Acted, type CallView, type Model } from '../api';
import { ActResult, CallCard, ErrorBox, Spinner, fmtTime } from '../components';
import { ModelPicker } from './chat';

export function CallsView() {
  const [request, setRequest] = useState('');
  const [sent, setSent] = useState('');
  const [models, setModels] = useState<Model[]>([]);
  const [model, setModel] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [acted, setActed] = useState<Acted | null>(null);
  const [calls, setCalls] = useState<CallView[]>([]);
  const [listError, setListError] = useState<unknown>(null);
  const load = () =>
    api<{ calls: CallView[] }>('/v1/calls').then(
      (r) => {
        setCalls(Array.isArray(r?.calls) ? r.calls : []);
        setListError(null);
      },
      setListError,
    );
  useEffect(() => {
    listModels().then(setModels, () => {});
    load();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    const q = request.trim();
    if (!q) return;
    setBusy(true);
    setError(null);
    setActed(null);
    try {
      const body: Record<string, unknown> = { request: q };
      if (model) body.model = model;
      setActed(await api<Acted>('/v1/act', { body }));
      setSent(q);
      load();
    } catch (ex) {
      setError(ex);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="calls-layout">
      <h1>Connected systems</h1>
      <section class="card" aria-labelledby="act-h">
        <h2 id="act-h">Ask a connected system</h2>
        <form onSubmit={submit}>
          <label for="act-request">Request</label>
          <textarea id="act-request" data-testid="act-request" rows={2} value={request} placeholder="Which flights are delayed at Nairobi?" onInput={(e) => setRequest((e.target as HTMLTextAreaElement).value)} />
          <div class="row">
            <ModelPicker models={models} value={model} onChange={setModel} id="act-model" label="Model" />
            <button type="submit" class="primary" data-testid="act-submit" disabled={busy || !request.trim()}>
              Send
            </button>
          </div>
        </form>
        {busy ? <Spinner label="Choosing and running the call…" /> : null}
        <ErrorBox error={error} />
        {acted ? <ActResult acted={acted} request={sent} /> : null}
      </section>
      <section class="card" aria-labelledby="calls-h">
        <div class="panel-head">
          <h2 id="calls-h">Your calls</h2>
          <button type="button" onClick={load} data-testid="calls-reload">
            Reload
          </button>
        </div>
        <ErrorBox error={listError} />
        {calls.length === 0 ? <p class="hint">No calls yet.</p> : null}
        <ul class="call-list" data-testid="call-list">
          {calls.map((c) => (
            <li key={c.id}>
              <CallCard call={c} onChange={() => load()} />
              <span class="meta">expires {fmtTime(c.expires)}</span>
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}
