// Analyst chat: conversations kept on the server, streamed answers with citations that open the
// cited passage, a model picker, and a side-by-side comparison of two models.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, listModels, postSse, type Answer, type Citation, type Model } from '../api';
import { AnswerView, ErrorBox, Mark, SourcePanel, Spinner, fmtTime, str, type SourceRef } from '../components';
import { rollUp } from '../marking';

interface ConvSummary {
  id: string;
  title: string;
  created: number;
  updated: number;
  messages: number;
  marking: string;
}

interface Msg {
  role: 'user' | 'assistant';
  content: string;
  marking?: string;
  answer?: Answer | null;
  streaming?: boolean;
  error?: unknown;
}

export function ModelPicker({ models, value, onChange, id, label }: { models: Model[]; value: string; onChange: (v: string) => void; id: string; label: string }) {
  return (
    <span class="field-inline">
      <label for={id}>{label}</label>
      <select id={id} data-testid={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value="">Default model</option>
        {models.map((m) => (
          <option value={m.id} key={m.id}>
            {m.id}
            {m.default ? ' (default)' : ''}
            {m.ready === false ? ' (not loaded)' : ''}
          </option>
        ))}
      </select>
    </span>
  );
}

function Conversations({
  list,
  supported,
  current,
  onSelect,
  onNew,
  onRename,
  onDelete,
}: {
  list: ConvSummary[];
  supported: boolean;
  current: string | null;
  onSelect: (id: string) => void;
  onNew: () => void;
  onRename: (id: string, title: string) => void;
  onDelete: (id: string) => void;
}) {
  const [editing, setEditing] = useState<string | null>(null);
  const [title, setTitle] = useState('');
  const [confirming, setConfirming] = useState<string | null>(null);
  return (
    <nav class="sidebar" aria-label="Conversations" data-testid="conversations">
      <div class="panel-head">
        <h2>Conversations</h2>
        <button type="button" onClick={onNew} data-testid="conv-new">
          New
        </button>
      </div>
      {!supported ? <p class="hint">Conversations are not kept by this server; this chat lasts until you leave the page.</p> : null}
      <ul>
        {list.map((c) => (
          <li key={c.id} class={c.id === current ? 'current' : ''} data-testid="conv-item" data-id={c.id}>
            {editing === c.id ? (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  onRename(c.id, title.trim());
                  setEditing(null);
                }}
              >
                <label for={'rename-' + c.id} class="sr-only">
                  New title
                </label>
                <input id={'rename-' + c.id} data-testid="conv-title-input" value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
                <button type="submit" data-testid="conv-rename-save">
                  Save
                </button>
                <button type="button" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <>
                <button type="button" class="conv-open link" aria-current={c.id === current ? 'true' : undefined} onClick={() => onSelect(c.id)} data-testid="conv-open">
                  {str(c.title) || 'Untitled'}
                </button>
                <div class="conv-meta">
                  <Mark marking={c.marking} testid="conv-mark" /> <span class="meta">{c.messages} msgs · {fmtTime(c.updated)}</span>
                </div>
                <div class="row small">
                  <button
                    type="button"
                    aria-label={`Rename ${str(c.title)}`}
                    onClick={() => {
                      setEditing(c.id);
                      setTitle(str(c.title));
                    }}
                    data-testid="conv-rename"
                  >
                    Rename
                  </button>
                  {confirming === c.id ? (
                    <>
                      <button type="button" class="danger" onClick={() => onDelete(c.id)} data-testid="conv-delete-confirm">
                        Really delete
                      </button>
                      <button type="button" onClick={() => setConfirming(null)}>
                        Keep
                      </button>
                    </>
                  ) : (
                    <button type="button" aria-label={`Delete ${str(c.title)}`} onClick={() => setConfirming(c.id)} data-testid="conv-delete">
                      Delete
                    </button>
                  )}
                </div>
              </>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}

interface Contender extends Partial<Answer> {
  model: string;
  error?: string | null;
  latency_ms: number;
  tokens_per_s: number;
}

function Compare({ models, onCite }: { models: Model[]; onCite: (c: Citation) => void }) {
  const [question, setQuestion] = useState('');
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ marking: string; answers: Contender[]; retrieve_ms: number } | null>(null);
  useEffect(() => {
    // Loaded models first.
    const order = [...models.filter((m) => m.ready !== false), ...models.filter((m) => m.ready === false)];
    if (!a && order[0]) setA(order[0].id);
    if (!b && order[0]) setB((order[1] ?? order[0]).id);
  }, [models]);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await api('/v1/compare', { body: { question: question.trim(), models: [a, b] } }));
    } catch (ex) {
      setError(ex);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="compare" aria-label="Compare models" data-testid="compare">
      <h2>Compare two models</h2>
      <form onSubmit={run} class="compare-form">
        <label for="compare-question">Question</label>
        <textarea id="compare-question" data-testid="compare-question" rows={2} value={question} onInput={(e) => setQuestion((e.target as HTMLTextAreaElement).value)} />
        <div class="row">
          <span class="field-inline">
            <label for="compare-a">Model A</label>
            <select id="compare-a" data-testid="compare-a" value={a} onChange={(e) => setA((e.target as HTMLSelectElement).value)}>
              {models.map((m) => (
                <option value={m.id} key={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </span>
          <span class="field-inline">
            <label for="compare-b">Model B</label>
            <select id="compare-b" data-testid="compare-b" value={b} onChange={(e) => setB((e.target as HTMLSelectElement).value)}>
              {models.map((m) => (
                <option value={m.id} key={m.id}>
                  {m.id}
                </option>
              ))}
            </select>
          </span>
          <button type="submit" class="primary" data-testid="compare-run" disabled={busy || !question.trim() || !a || !b}>
            Compare
          </button>
        </div>
      </form>
      {busy ? <Spinner label="Both models are answering (they run locally; this can take minutes)…" /> : null}
      <ErrorBox error={error} />
      {result ? (
        <div class="compare-grid" data-testid="compare-result">
          {(Array.isArray(result.answers) ? result.answers : []).map((c, i) => (
            <div class="compare-col" data-testid="compare-col" data-model={c.model} key={i}>
              <h3>{str(c.model)}</h3>
              <dl class="kv stats">
                <dt>Latency</dt>
                <dd data-testid="compare-latency">{(Number(c.latency_ms) / 1000).toFixed(1)} s</dd>
                <dt>Tokens/s</dt>
                <dd data-testid="compare-tps">{Number(c.tokens_per_s).toFixed(1)}</dd>
                <dt>Supported</dt>
                <dd data-testid="compare-supported">{c.supported_share !== undefined ? `${Math.round(Number(c.supported_share) * 100)}%` : '—'}</dd>
              </dl>
              {c.error ? <ErrorBox error={str(c.error)} /> : c.answer !== undefined ? <AnswerView answer={c as Answer} onCite={onCite} testid="compare-answer" /> : null}
            </div>
          ))}
        </div>
      ) : null}
    </section>
  );
}

export function ChatView() {
  const [models, setModels] = useState<Model[]>([]);
  const [model, setModel] = useState('');
  const [convs, setConvs] = useState<ConvSummary[]>([]);
  const [supported, setSupported] = useState(true);
  const [current, setCurrent] = useState<string | null>(null);
  const [msgs, setMsgs] = useState<Msg[]>([]);
  const [input, setInput] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [source, setSource] = useState<SourceRef | null>(null);
  const [tab, setTab] = useState<'chat' | 'compare'>('chat');
  const abort = useRef<AbortController | null>(null);
  const endRef = useRef<HTMLDivElement>(null);

  const loadConvs = async () => {
    try {
      const r = await api<{ conversations: ConvSummary[] }>('/v1/conversations');
      setConvs(Array.isArray(r?.conversations) ? r.conversations : []);
      setSupported(true);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) setSupported(false);
      else setError(e);
    }
  };

  useEffect(() => {
    listModels().then((ms) => {
      setModels(ms);
      // The server's default when it is loaded, else the first model that is.
      const def = ms.find((m) => m.default);
      if (def && def.ready === false) {
        const ready = ms.find((m) => m.ready !== false);
        if (ready) setModel(ready.id);
      }
    }, setError);
    loadConvs();
    return () => abort.current?.abort();
  }, []);

  useEffect(() => {
    endRef.current?.scrollIntoView?.({ block: 'end' });
  }, [msgs.length]);

  const select = async (id: string) => {
    setError(null);
    setSource(null);
    try {
      const c = await api<{ id: string; messages: any[] }>('/v1/conversations/' + encodeURIComponent(id));
      setCurrent(id);
      setMsgs(
        (Array.isArray(c.messages) ? c.messages : []).map((m) => ({
          role: m.role === 'user' ? 'user' : 'assistant',
          content: str(m.content),
          marking: str(m.marking),
          answer: m.answer ?? null,
        })),
      );
    } catch (e) {
      setError(e);
    }
  };

  const newConv = async () => {
    setError(null);
    setSource(null);
    setMsgs([]);
    setCurrent(null);
    if (!supported) return;
    try {
      const c = await api<ConvSummary>('/v1/conversations', { method: 'POST', body: {} });
      setCurrent(c.id);
      await loadConvs();
    } catch (e) {
      setError(e);
    }
  };

  const rename = async (id: string, title: string) => {
    try {
      await api('/v1/conversations/' + encodeURIComponent(id), { method: 'PATCH', body: { title } });
      await loadConvs();
    } catch (e) {
      setError(e);
    }
  };

  const remove = async (id: string) => {
    try {
      await api('/v1/conversations/' + encodeURIComponent(id), { method: 'DELETE' });
      if (id === current) {
        setCurrent(null);
        setMsgs([]);
      }
      await loadConvs();
    } catch (e) {
      setError(e);
    }
  };

  const send = async (e?: Event) => {
    e?.preventDefault();
    const q = input.trim();
    if (!q || busy) return;
    setBusy(true);
    setError(null);
    let conv = current;
    if (!conv && supported) {
      try {
        const c = await api<ConvSummary>('/v1/conversations', { method: 'POST', body: { title: q.slice(0, 60) } });
        conv = c.id;
        setCurrent(c.id);
      } catch {
        conv = null;
      }
    }
    const history: Msg[] = [...msgs, { role: 'user', content: q }];
    const wire = history.map((m) => ({ role: m.role, content: m.role === 'assistant' ? str(m.answer?.answer ?? m.content) : m.content }));
    setMsgs([...history, { role: 'assistant', content: '', streaming: true }]);
    setInput('');
    const update = (f: (m: Msg) => Msg) => setMsgs((all) => [...all.slice(0, -1), f(all[all.length - 1])]);
    const ctl = new AbortController();
    abort.current = ctl;
    const body: Record<string, unknown> = { messages: wire, stream: true };
    if (model) body.model = model;
    if (conv) body.conversation = conv;
    try {
      await postSse(
        '/v1/chat',
        body,
        (ev) => {
          if (ev.event === 'token') {
            update((m) => ({ ...m, content: m.content + str(ev.data?.text), marking: rollUp([m.marking ?? '', str(ev.data?.marking)].filter(Boolean)) ?? undefined }));
          } else if (ev.event === 'answer' || ev.event === 'json') {
            update((m) => ({ ...m, streaming: false, answer: ev.data as Answer, content: str(ev.data?.answer), marking: str(ev.data?.marking) }));
          } else if (ev.event === 'error') {
            update((m) => ({ ...m, streaming: false, error: str(ev.data?.error?.message ?? ev.data?.message ?? 'the answer failed') }));
          }
        },
        ctl.signal,
      );
      update((m) => (m.streaming ? { ...m, streaming: false, error: m.answer ? undefined : 'the stream ended without an answer' } : m));
    } catch (ex) {
      update((m) => ({ ...m, streaming: false, error: ex instanceof Error ? ex.message : str(ex) }));
    } finally {
      setBusy(false);
      abort.current = null;
      if (supported) loadConvs();
    }
  };

  const openCite = (c: Citation) => setSource({ doc_id: c.doc_id, n: c.n, title: c.title, start: c.start, end: c.end, quote: c.quote, marking: c.marking });

  return (
    <div class={'chat-layout' + (source ? ' with-source' : '')}>
      <Conversations list={convs} supported={supported} current={current} onSelect={select} onNew={newConv} onRename={rename} onDelete={remove} />
      <section class="chat-main" aria-label="Chat">
        <div class="toolbar">
          <h1>Analyst chat</h1>
          <ModelPicker models={models} value={model} onChange={setModel} id="model" label="Model" />
          <div class="tabs" role="group" aria-label="Mode">
            <button type="button" aria-pressed={tab === 'chat'} onClick={() => setTab('chat')} data-testid="tab-chat">
              Chat
            </button>
            <button type="button" aria-pressed={tab === 'compare'} onClick={() => setTab('compare')} data-testid="tab-compare">
              Compare models
            </button>
          </div>
        </div>
        <ErrorBox error={error} />
        {tab === 'compare' ? (
          <Compare models={models} onCite={openCite} />
        ) : (
          <>
            <div class="messages" data-testid="messages" aria-live="polite">
              {msgs.length === 0 ? <p class="hint">Ask a question about the documents. Answers cite their sources; click a [n] to read the passage.</p> : null}
              {msgs.map((m, i) => (
                <div class={'msg msg-' + m.role} data-testid={'msg-' + m.role} key={i}>
                  {m.role === 'user' ? (
                    <p class="user-text">{m.content}</p>
                  ) : m.answer ? (
                    <AnswerView answer={m.answer} onCite={openCite} request={msgs[i - 1]?.content} />
                  ) : (
                    <div class="answer streaming" data-testid="streaming">
                      {m.marking ? <Mark marking={m.marking} testid="answer-mark" /> : null}
                      <p class="answer-text">{m.content}</p>
                      {m.streaming ? <Spinner label="Answering (the model runs locally)…" /> : null}
                      {m.error ? <ErrorBox error={m.error} /> : null}
                    </div>
                  )}
                </div>
              ))}
              <div ref={endRef} />
            </div>
            <form class="composer" onSubmit={send}>
              <label for="chat-input" class="sr-only">
                Question
              </label>
              <textarea
                id="chat-input"
                data-testid="chat-input"
                rows={2}
                placeholder="Ask a question (Ctrl+Enter sends)"
                value={input}
                onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) send();
                }}
              />
              <button type="submit" class="primary" data-testid="chat-send" disabled={busy || !input.trim()}>
                Send
              </button>
              {busy ? (
                <button type="button" onClick={() => abort.current?.abort()} data-testid="chat-stop">
                  Stop
                </button>
              ) : null}
            </form>
          </>
        )}
      </section>
      {source ? <SourcePanel source={source} onClose={() => setSource(null)} /> : null}
    </div>
  );
}
