// Documents: upload (drag and drop, several files, a marking, progress, per-file outcome), the
// list with search and marking filters, the extracted text with its portion marks, delete, and
// the ingestion / embedding status.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, authHeaders, errorFromBody, type DocumentBody, type Me } from '../api';
import { ErrorBox, Mark, PortionText, Spinner, fmtBytes, fmtTime, str } from '../components';
import { LEVELS } from '../marking';

interface DocRow {
  /** `doc_id` from the server (older drafts said `id`). */
  doc_id?: string;
  id?: string;
  title: string;
  source: string;
  format: string;
  marking: string;
  chunks: number;
  bytes: number;
  ingested_at: number;
  feed?: string;
}

interface Ready {
  ready: boolean;
  documents: number;
  chunks: number;
  vectors: number;
  vectors_pending: number;
  vectors_complete: boolean;
  embedding_model: string;
}

interface FileJob {
  name: string;
  size: number;
  progress: number;
  state: 'queued' | 'uploading' | 'done' | 'failed';
  status?: string;
  message?: string;
  doc_id?: string | null;
}

export const MARKING_CHOICES = ['UNCLASSIFIED', 'CUI', 'CONFIDENTIAL', 'SECRET', 'SECRET//NOFORN', 'TOP SECRET', 'TOP SECRET//SI'];

/** The files as one multipart upload (the server reports each file's outcome), with progress. */
function uploadAll(files: File[], marking: string, onProgress: (loaded: number, total: number) => void): Promise<{ status: number; body: string; statusText: string }> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    if (marking) form.append('marking', marking);
    for (const f of files) form.append('file', f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/v1/documents');
    for (const [k, v] of Object.entries(authHeaders({ Accept: 'application/json' }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText, statusText: xhr.statusText });
    xhr.onerror = () => reject(new Error('network error while uploading'));
    xhr.send(form);
  });
}

function Upload({ onDone, canUpload }: { onDone: () => void; canUpload: boolean }) {
  const [files, setFiles] = useState<File[]>([]);
  const [jobs, setJobs] = useState<FileJob[]>([]);
  const [marking, setMarking] = useState('');
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const add = (list: FileList | null) => {
    if (!list) return;
    setFiles((f) => [...f, ...Array.from(list)]);
  };

  const start = async (e: Event) => {
    e.preventDefault();
    if (!files.length) return;
    setBusy(true);
    const queue: FileJob[] = files.map((f) => ({ name: f.name, size: f.size, progress: 0, state: 'queued' }));
    setJobs(queue);
    const set = (i: number, patch: Partial<FileJob>) => setJobs((all) => all.map((j, k) => (k === i ? { ...j, ...patch } : j)));
    // Each file's share of the request body, in order, to show its own progress.
    const sum = files.reduce((n, f) => n + f.size, 0) || 1;
    const ends: number[] = [];
    files.reduce((n, f) => (ends.push(n + f.size), n + f.size), 0);
    setJobs(queue.map((j) => ({ ...j, state: 'uploading' })));
    try {
      const r = await uploadAll(files, marking.trim(), (loaded, total) => {
        const at = (loaded / total) * sum;
        setJobs((all) => all.map((j, k) => (j.state === 'uploading' ? { ...j, progress: Math.max(0, Math.min(1, (at - (ends[k] - files[k].size)) / (files[k].size || 1))) } : j)));
      });
      let parsed: any = null;
      try {
        parsed = JSON.parse(r.body);
      } catch {
        parsed = null;
      }
      const outcomes: any[] = parsed && Array.isArray(parsed.documents) ? parsed.documents : [];
      if (outcomes.length) {
        files.forEach((f, i) => {
          const o = outcomes.find((x) => x.name === f.name) ?? outcomes[i];
          if (!o) return set(i, { state: 'failed', progress: 1, message: 'no outcome reported' });
          const failed = o.status === 'failed';
          set(i, { state: failed ? 'failed' : 'done', progress: 1, status: str(o.status), message: failed ? str(o.error) : `${str(o.chunks)} chunk${Number(o.chunks) === 1 ? "" : "s"}`, doc_id: o.doc_id });
        });
      } else {
        const msg = errorFromBody(r.status, r.statusText, r.body).message;
        files.forEach((_, i) => set(i, { state: 'failed', message: msg }));
      }
    } catch (ex) {
      const msg = ex instanceof Error ? ex.message : str(ex);
      files.forEach((_, i) => set(i, { state: 'failed', message: msg }));
    }
    setFiles([]);
    if (input.current) input.current.value = '';
    setBusy(false);
    onDone();
  };

  return (
    <section class="card" aria-labelledby="upload-h">
      <h2 id="upload-h">Upload</h2>
      {!canUpload ? <p class="hint">Uploading needs the ingester role.</p> : null}
      <form onSubmit={start}>
        <div
          class={'dropzone' + (over ? ' over' : '')}
          data-testid="dropzone"
          onDragOver={(e) => {
            e.preventDefault();
            setOver(true);
          }}
          onDragLeave={() => setOver(false)}
          onDrop={(e) => {
            e.preventDefault();
            setOver(false);
            add(e.dataTransfer?.files ?? null);
          }}
        >
          <p>Drop files here (.txt, .md, .html, .pdf, .docx), or</p>
          <label for="upload-files">Choose files</label>
          <input id="upload-files" data-testid="upload-files" ref={input} type="file" multiple onChange={(e) => add((e.target as HTMLInputElement).files)} />
        </div>
        {files.length ? (
          <ul class="file-list" data-testid="upload-pending">
            {files.map((f, i) => (
              <li key={i}>
                {f.name} <span class="meta">{fmtBytes(f.size)}</span>
              </li>
            ))}
          </ul>
        ) : null}
        <div class="row">
          <span class="field-inline">
            <label for="upload-marking">Marking (for files that carry none)</label>
            <input id="upload-marking" data-testid="upload-marking" list="marking-choices" value={marking} placeholder="server default" onInput={(e) => setMarking((e.target as HTMLInputElement).value)} />
            <datalist id="marking-choices">
              {MARKING_CHOICES.map((m) => (
                <option value={m} key={m} />
              ))}
            </datalist>
          </span>
          <button type="submit" class="primary" data-testid="upload-submit" disabled={busy || !files.length || !canUpload}>
            Upload {files.length ? `${files.length} file${files.length > 1 ? 's' : ''}` : ''}
          </button>
        </div>
      </form>
      {jobs.length ? (
        <ul class="jobs" data-testid="upload-results" aria-live="polite">
          {jobs.map((j, i) => (
            <li key={i} class={'job job-' + j.state} data-testid="upload-result" data-state={j.state} data-name={j.name}>
              <span class="job-name">{j.name}</span>
              <progress max={1} value={j.progress} aria-label={`Upload of ${j.name}`} />
              <span class="job-state">{j.state === 'done' ? str(j.status) : j.state}</span>
              {j.message ? <span class={j.state === 'failed' ? 'error-text' : 'meta'}>{j.message}</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

function Status({ tick }: { tick: number }) {
  const [r, setR] = useState<Ready | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Polled while embeddings catch up (after an upload), then left alone.
    const load = () =>
      api<Ready>('/readyz', { okStatuses: [503] })
        .then((x) => {
          if (!live) return;
          setR(x);
          setError(null);
          if (!x.vectors_complete || !x.ready) timer = setTimeout(load, 3000);
        })
        .catch((e) => live && setError(e));
    load();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [tick]);
  return (
    <section class="card" aria-labelledby="status-h" data-testid="ingest-status">
      <h2 id="status-h">Ingestion</h2>
      <ErrorBox error={error} />
      {r ? (
        <dl class="kv stats">
          <dt>Documents</dt>
          <dd data-testid="status-documents">{r.documents}</dd>
          <dt>Chunks</dt>
          <dd>{r.chunks}</dd>
          <dt>Vectors</dt>
          <dd>
            {r.vectors}
            {r.vectors_pending ? ` (${r.vectors_pending} pending)` : ''}
          </dd>
          <dt>Embedding</dt>
          <dd data-testid="status-embedding">
            {r.vectors_complete ? 'complete' : 'catching up'} · {str(r.embedding_model)}
            {r.ready ? '' : ' · not ready'}
          </dd>
        </dl>
      ) : null}
    </section>
  );
}

function DocViewer({ id, onClose }: { id: string; onClose: () => void }) {
  const [doc, setDoc] = useState<DocumentBody | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setDoc(null);
    api<DocumentBody>('/v1/documents/' + encodeURIComponent(id)).then(setDoc, setError);
  }, [id]);
  return (
    <section class="card doc-viewer" aria-label="Document text" data-testid="doc-viewer">
      <div class="panel-head">
        <h2>{doc ? str(doc.title) : 'Document'}</h2>
        <button type="button" onClick={onClose} data-testid="doc-close">
          Close
        </button>
      </div>
      <ErrorBox error={error} />
      {!doc && !error ? <Spinner label="Loading…" /> : null}
      {doc ? (
        <>
          <p class="meta">
            <Mark marking={doc.marking} testid="doc-mark" /> {str(doc.source)} · {str(doc.format)} · {fmtBytes(doc.bytes)} · {doc.chunks} chunks · {fmtTime(doc.ingested_at)}
            {doc.feed ? ` · feed ${str(doc.feed)}` : ''}
          </p>
          <div class="doc-text" data-testid="doc-text" tabIndex={0} role="region" aria-label="Document text">
            <PortionText text={str(doc.text)} />
          </div>
        </>
      ) : null}
    </section>
  );
}

const PAGE = 50;

export function DocumentsView({ me }: { me: Me }) {
  const [q, setQ] = useState('');
  const [level, setLevel] = useState('');
  const [records, setRecords] = useState(false);
  const [offset, setOffset] = useState(0);
  const [rows, setRows] = useState<DocRow[]>([]);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [viewing, setViewing] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const roles = Array.isArray(me.roles) ? me.roles : [];

  const load = async () => {
    setLoading(true);
    setError(null);
    try {
      const p = new URLSearchParams({ q, marking: level, limit: String(PAGE), offset: String(offset) });
      if (records) p.set('records', 'true');
      const r = await api<{ documents: DocRow[]; total: number }>('/v1/documents?' + p.toString());
      setRows((Array.isArray(r?.documents) ? r.documents : []).map((d) => ({ ...d, id: str(d.doc_id ?? d.id) })));
      setTotal(Number(r?.total ?? 0));
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    load();
  }, [offset, level, records, tick]);

  const del = async (id: string) => {
    try {
      await api('/v1/documents/' + encodeURIComponent(id), { method: 'DELETE' });
      setConfirming(null);
      if (viewing === id) setViewing(null);
      setTick((t) => t + 1);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div class="docs-layout">
      <h1>Documents</h1>
      <div class="docs-top">
        <Upload onDone={() => setTick((t) => t + 1)} canUpload={roles.includes('ingester') || me.admin} />
        <Status tick={tick} />
      </div>
      <section class="card" aria-labelledby="list-h">
        <h2 id="list-h">Library</h2>
        <form
          class="row filters"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setOffset(0);
            setTick((t) => t + 1);
          }}
        >
          <span class="field-inline">
            <label for="doc-q">Title or source contains</label>
            <input id="doc-q" data-testid="doc-search" type="search" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
          </span>
          <span class="field-inline">
            <label for="doc-level">Marking</label>
            <select
              id="doc-level"
              data-testid="doc-marking-filter"
              value={level}
              onChange={(e) => {
                setLevel((e.target as HTMLSelectElement).value);
                setOffset(0);
              }}
            >
              <option value="">Any</option>
              {LEVELS.map((l) => (
                <option value={l} key={l}>
                  {l}
                </option>
              ))}
            </select>
          </span>
          <label class="radio">
            <input
              type="checkbox"
              checked={records}
              data-testid="doc-records"
              onChange={(e) => {
                setRecords((e.target as HTMLInputElement).checked);
                setOffset(0);
              }}
            />{' '}
            Feed records instead of documents
          </label>
          <button type="submit" data-testid="doc-search-submit">
            Search
          </button>
        </form>
        <ErrorBox error={error} />
        {loading ? <Spinner label="Loading…" /> : null}
        <p class="meta" data-testid="doc-total">
          {total} document{total === 1 ? '' : 's'}
          {total > PAGE ? `, ${offset + 1}–${Math.min(total, offset + PAGE)} shown` : ''}
        </p>
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Documents table">
          <table class="docs" data-testid="doc-table">
            <thead>
              <tr>
                <th scope="col">Marking</th>
                <th scope="col">Title</th>
                <th scope="col">Source</th>
                <th scope="col">Format</th>
                <th scope="col">Chunks</th>
                <th scope="col">Size</th>
                <th scope="col">Ingested</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.id} data-testid="doc-row" data-id={str(d.id)} data-title={str(d.title)}>
                  <td>
                    <Mark marking={d.marking} testid="doc-row-mark" />
                  </td>
                  <td>{str(d.title)}</td>
                  <td class="src">
                    {str(d.source)}
                    {d.feed ? <span class="meta"> (feed {str(d.feed)})</span> : null}
                  </td>
                  <td>{str(d.format)}</td>
                  <td>{d.chunks}</td>
                  <td>{fmtBytes(d.bytes)}</td>
                  <td>{fmtTime(d.ingested_at)}</td>
                  <td class="actions">
                    <button type="button" onClick={() => setViewing(str(d.id))} aria-label={`View ${str(d.title)}`} data-testid="doc-view">
                      View
                    </button>
                    {confirming === d.id ? (
                      <>
                        <button type="button" class="danger" onClick={() => del(str(d.id))} data-testid="doc-delete-confirm">
                          Really delete
                        </button>
                        <button type="button" onClick={() => setConfirming(null)}>
                          Keep
                        </button>
                      </>
                    ) : (
                      <button type="button" onClick={() => setConfirming(str(d.id))} aria-label={`Delete ${str(d.title)}`} data-testid="doc-delete">
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="row">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
            Previous
          </button>
          <button type="button" disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
            Next
          </button>
        </div>
      </section>
      {viewing ? <DocViewer id={viewing} onClose={() => setViewing(null)} /> : null}
    </div>
  );
}
