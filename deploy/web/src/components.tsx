// Shared pieces: marking labels (each registers its marking for the banner), errors, the source
// panel, cited answers, connected-system calls. Every server string is rendered as text.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Acted, type Answer, type CallView, type Citation, type DocumentBody } from './api';
import { markingClass, useMarking, useScreenMarking } from './marking';

export const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** A small marking label; registers the marking as shown while mounted. */
export function Mark({ marking, testid }: { marking: string | null | undefined; testid?: string }) {
  useMarking(marking);
  if (!marking) return null;
  return (
    <span class={'mark ' + markingClass(marking)} data-testid={testid ?? 'mark'} data-marking={marking}>
      {marking}
    </span>
  );
}

/** Registers a marking without showing a label (e.g. one shown by Leaflet). */
export function Registered({ marking }: { marking: string | null | undefined }) {
  useMarking(marking);
  return null;
}

export function Banner({ where }: { where: 'top' | 'bottom' }) {
  const m = useScreenMarking();
  return (
    <div class={'banner banner-' + where + ' ' + markingClass(m)} data-testid={'banner-' + where} data-banner={m}>
      {m}
    </div>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : str(error);
  return (
    <div class="error" role="alert" data-testid="error">
      {msg}
    </div>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <p class="status" role="status" data-testid="busy">
      <span class="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

export function fmtTime(unix: number | null | undefined): string {
  if (!unix) return '';
  try {
    return new Date(unix * 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
  } catch {
    return str(unix);
  }
}

export function fmtBytes(n: number | null | undefined): string {
  const b = Number(n ?? 0);
  if (b < 1024) return `${b} B`;
  if (b < 1 << 20) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / (1 << 20)).toFixed(1)} MiB`;
}

// ---- document text with portion marks and a highlighted span ---------------------------------

const PORTION = /\((?:U|CUI|C|S|TS|UNCLASSIFIED|CONFIDENTIAL|SECRET|TOP SECRET)(?:\/\/[A-Z0-9 ,/-]+)?\)/g;

/** Text with its portion marks ("(S//NF)") styled by level. */
export function PortionText({ text }: { text: string }) {
  const out: ComponentChildren[] = [];
  let last = 0;
  for (const m of text.matchAll(PORTION)) {
    const i = m.index ?? 0;
    if (i > last) out.push(text.slice(last, i));
    out.push(
      <span class={'portion ' + markingClass(m[0])} data-testid="portion-mark">
        {m[0]}
      </span>,
    );
    last = i + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return <>{out}</>;
}

/** UTF-16 indices of the code-point offsets [start, end) (Rust counts chars). */
function charSpan(text: string, start: number, end: number): [number, number] | null {
  let cp = 0;
  let s = -1;
  let e = -1;
  for (let i = 0; i <= text.length; ) {
    if (cp === start) s = i;
    if (cp === end) {
      e = i;
      break;
    }
    if (i === text.length) break;
    const c = text.codePointAt(i) ?? 0;
    i += c > 0xffff ? 2 : 1;
    cp++;
  }
  return s >= 0 && e >= s ? [s, e] : null;
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Where a citation's quote lies in the document text. */
export function locate(text: string, start: number | undefined, end: number | undefined, quote: string): [number, number] | null {
  let span: [number, number] | null = null;
  if (typeof start === 'number' && typeof end === 'number' && end > start) {
    span = charSpan(text, start, end);
    if (span && !quote) return span;
    if (span) {
      const got = squash(text.slice(span[0], span[1]));
      const q = squash(quote);
      if (got === q || got.includes(q.slice(0, 40)) || q.includes(got.slice(0, 40))) return span;
    }
  }
  if (quote) {
    const i = text.indexOf(quote);
    if (i >= 0) return [i, i + quote.length];
    const head = quote.slice(0, 60);
    const j = text.indexOf(head);
    if (j >= 0) return [j, j + quote.length];
  }
  return span;
}

export interface SourceRef {
  doc_id: string;
  n?: number;
  title?: string;
  start?: number;
  end?: number;
  quote?: string;
  marking?: string;
}

const CONTEXT = 700;

/** The cited document around the quoted span, the span in <mark>, with portion marks. */
export function SourcePanel({ source, onClose }: { source: SourceRef; onClose: () => void }) {
  const [doc, setDoc] = useState<DocumentBody | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [full, setFull] = useState(false);
  const markRef = useRef<HTMLElement>(null);
  // Bring the cited span into view inside the scrolling text.
  useEffect(() => {
    const m = markRef.current;
    const box = m?.closest('.doc-text') as HTMLElement | null;
    if (m && box) box.scrollTop = Math.max(0, m.offsetTop - box.offsetTop - box.clientHeight / 3);
  }, [doc, full]);
  useEffect(() => {
    let live = true;
    setDoc(null);
    setError(null);
    api<DocumentBody>('/v1/documents/' + encodeURIComponent(source.doc_id))
      .then((d) => live && setDoc(d))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [source.doc_id]);
  let body: ComponentChildren = null;
  if (doc) {
    const text = str(doc.text);
    const span = locate(text, source.start, source.end, str(source.quote));
    if (span) {
      const from = full ? 0 : Math.max(0, span[0] - CONTEXT);
      const to = full ? text.length : Math.min(text.length, span[1] + CONTEXT);
      body = (
        <div class="doc-text" data-testid="source-text" tabIndex={0} role="region" aria-label="Document text">
          {from > 0 ? '… ' : ''}
          <PortionText text={text.slice(from, span[0])} />
          <mark data-testid="source-highlight" ref={markRef}>
            <PortionText text={text.slice(span[0], span[1])} />
          </mark>
          <PortionText text={text.slice(span[1], to)} />
          {to < text.length ? ' …' : ''}
        </div>
      );
    } else {
      body = (
        <>
          <p class="hint">The quoted span was not found in the document's text; the quote was:</p>
          <blockquote data-testid="source-quote">{str(source.quote)}</blockquote>
          <div class="doc-text" data-testid="source-text" tabIndex={0} role="region" aria-label="Document text">
            <PortionText text={full ? text : text.slice(0, 3000)} />
          </div>
        </>
      );
    }
  }
  return (
    <aside class="source-panel" data-testid="source-panel" aria-label="Cited source">
      <div class="panel-head">
        <h2>
          {source.n !== undefined ? `[${source.n}] ` : ''}
          {doc ? str(doc.title) : str(source.title)}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close the source panel" data-testid="source-close">
          Close
        </button>
      </div>
      {source.marking ? (
        <p>
          Citation: <Mark marking={source.marking} testid="source-cite-mark" />
        </p>
      ) : null}
      {doc ? (
        <p class="meta">
          Document <Mark marking={doc.marking} testid="source-doc-mark" /> {str(doc.source)} · {str(doc.format)} · {fmtBytes(doc.bytes)}
        </p>
      ) : null}
      <ErrorBox error={error} />
      {!doc && !error ? <Spinner label="Loading the document…" /> : null}
      {body}
      {doc ? (
        <button type="button" class="link" onClick={() => setFull(!full)} data-testid="source-toggle">
          {full ? 'Show only the passage' : 'Show the whole document'}
        </button>
      ) : null}
    </aside>
  );
}

// ---- cited answers --------------------------------------------------------------------------

/** Answer text with each "[n]" as a button that opens citation n. */
export function CitedText({ text, citations, onCite }: { text: string; citations: { n: number }[]; onCite: (n: number) => void }) {
  const known = new Set(citations.map((c) => Number(c.n)));
  const out: ComponentChildren[] = [];
  let last = 0;
  for (const m of text.matchAll(/\[(\d+)\]/g)) {
    const n = Number(m[1]);
    if (!known.has(n)) continue;
    const i = m.index ?? 0;
    if (i > last) out.push(text.slice(last, i));
    out.push(
      <button type="button" class="cite" data-testid="cite" data-n={n} aria-label={`Open source ${n}`} onClick={() => onCite(n)}>
        [{n}]
      </button>,
    );
    last = i + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return <>{out}</>;
}

export function CitationList({ citations, onCite }: { citations: Citation[]; onCite?: (c: Citation) => void }) {
  if (!citations.length) return null;
  return (
    <ol class="citations" data-testid="citations" aria-label="Citations">
      {citations.map((c) => (
        <li class="citation" data-n={c.n} key={c.n}>
          {onCite ? (
            <button type="button" class="cite" data-testid="citation-open" data-n={c.n} aria-label={`Open source ${c.n}: ${str(c.title)}`} onClick={() => onCite(c)}>
              [{c.n}]
            </button>
          ) : (
            <span class="cite-n">[{c.n}]</span>
          )}{' '}
          <span class="cite-title">{str(c.title)}</span>
          {c.page ? <span class="meta"> p. {c.page}</span> : null} — <q class="cite-quote">{str(c.quote)}</q> <Mark marking={c.marking} testid="citation-mark" />
        </li>
      ))}
    </ol>
  );
}

/** Plain text of an answer and its sources, for the clipboard. */
export function answerAsText(a: { marking: string; answer: string; citations?: any[] }): string {
  let s = `${str(a.marking)}\n\n${str(a.answer)}`;
  const cites = Array.isArray(a.citations) ? a.citations : [];
  if (cites.length) {
    s += '\n\nSources:';
    for (const c of cites) s += `\n[${str(c.n)}] (${str(c.marking)}) ${str(c.title)} (${str(c.source)}): "${str(c.quote)}"`;
  }
  return `${s}\n\n${str(a.marking)}\n`;
}

export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Clipboard API refused (no permission, not focused): the old way.
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  if (!ok) throw new Error('the browser refused to copy');
}

export function CopyButton({ text, label, testid }: { text: () => string; label: string; testid?: string }) {
  const [state, setState] = useState('');
  return (
    <>
      <button
        type="button"
        data-testid={testid ?? 'copy'}
        onClick={() => {
          const t = text();
          (window as any).__sextantCopied = t;
          copyText(t).then(
            () => setState('Copied'),
            (e) => setState('Copy failed: ' + str(e?.message ?? e)),
          );
        }}
      >
        {label}
      </button>
      <span class="hint" role="status">
        {state}
      </span>
    </>
  );
}

export function AnswerView({ answer, onCite, testid, request }: { answer: Answer; onCite: (c: Citation) => void; testid?: string; request?: string }) {
  const cites = Array.isArray(answer.citations) ? answer.citations : [];
  const byN = new Map(cites.map((c) => [Number(c.n), c]));
  if (answer.route === 'act') return <ActResult acted={answer as unknown as Acted} request={request} />;
  return (
    <div class={'answer' + (answer.abstained ? ' abstained' : '')} data-testid={testid ?? 'answer'} data-abstained={answer.abstained ? 'true' : 'false'}>
      <div class="answer-head">
        <Mark marking={answer.marking} testid="answer-mark" />
        {answer.abstained ? (
          <span class="abstain-label" data-testid="abstained">
            Abstained — the documents do not say
          </span>
        ) : null}
        {answer.model ? <span class="meta">{str(answer.model)}</span> : null}
      </div>
      <p class="answer-text" data-testid="answer-text">
        <CitedText text={str(answer.answer)} citations={cites} onCite={(n) => byN.get(n) && onCite(byN.get(n)!)} />
      </p>
      <CitationList citations={cites} onCite={onCite} />
      <div class="row">
        <CopyButton text={() => answerAsText(answer)} label="Copy answer with citations" testid="copy-answer" />
      </div>
    </div>
  );
}

// ---- connected systems ----------------------------------------------------------------------

export function CallCard({ call, request, onChange }: { call: CallView; request?: string; onChange?: (a: Acted | CallView) => void }) {
  const [busy, setBusy] = useState('');
  const [error, setError] = useState<unknown>(null);
  const act = async (what: 'confirm' | 'deny') => {
    setBusy(what);
    setError(null);
    try {
      const r = await api<any>(`/v1/calls/${encodeURIComponent(call.id)}/${what}`, what === 'confirm' ? { method: 'POST', body: { request: request ?? '' } } : { method: 'POST' });
      onChange?.(r);
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const pending = call.state === 'pending';
  return (
    <div class={'call call-' + str(call.state)} data-testid="call" data-state={str(call.state)} data-id={call.id}>
      <div class="answer-head">
        <Mark marking={call.marking} testid="call-mark" />
        <strong>
          {str(call.connector)} · {str(call.operation)}
        </strong>
        <span class="state" data-testid="call-state">
          {str(call.state)}
        </span>
      </div>
      {pending ? (
        <div class="confirm-card" data-testid="confirm-card" role="group" aria-label="Confirm the change">
          <p>
            <strong>This will change data in {str(call.connector)}:</strong> {str(call.summary)}
          </p>
          <p class="meta">Confirm before {fmtTime(call.expires)}.</p>
          <div class="row">
            <button type="button" class="primary" disabled={!!busy} onClick={() => act('confirm')} data-testid="call-confirm">
              Confirm
            </button>
            <button type="button" disabled={!!busy} onClick={() => act('deny')} data-testid="call-deny">
              Deny
            </button>
          </div>
        </div>
      ) : (
        <p>{str(call.summary)}</p>
      )}
      <dl class="kv">
        <dt>Request</dt>
        <dd>
          <code>
            {str(call.method)} {str(call.url)}
          </code>
        </dd>
        <dt>Arguments</dt>
        <dd>
          <pre>{JSON.stringify(call.arguments ?? {}, null, 2)}</pre>
        </dd>
        {call.status !== undefined ? (
          <>
            <dt>Result</dt>
            <dd>
              HTTP {str(call.status)}
              {call.bytes !== undefined ? `, ${fmtBytes(call.bytes)}` : ''}
              {call.duration_ms !== undefined ? `, ${Math.round(call.duration_ms)} ms` : ''}
            </dd>
          </>
        ) : null}
        {call.error ? (
          <>
            <dt>Error</dt>
            <dd class="error-text">{str(call.error)}</dd>
          </>
        ) : null}
      </dl>
      {busy ? <Spinner label={busy === 'confirm' ? 'Running the call…' : 'Denying…'} /> : null}
      <ErrorBox error={error} />
    </div>
  );
}

export function ActResult({ acted: initial, request }: { acted: Acted; request?: string }) {
  const [acted, setActed] = useState<Acted>(initial);
  useEffect(() => setActed(initial), [initial]);
  const calls = Array.isArray(acted.calls) ? acted.calls : [];
  const cites = Array.isArray(acted.citations) ? acted.citations : [];
  const onChange = (r: any) => {
    if (r && Array.isArray(r.calls)) setActed(r as Acted);
    else if (r && r.id) setActed({ ...acted, status: str(r.state) || acted.status, calls: calls.map((c) => (c.id === r.id ? (r as CallView) : c)) });
  };
  return (
    <div class="act-result" data-testid="act-result" data-status={str(acted.status)}>
      <div class="answer-head">
        <Mark marking={acted.marking} testid="act-mark" />
        <span class="state">Connected systems: {str(acted.status)}</span>
      </div>
      {calls.map((c) => (
        <CallCard call={c} request={request} onChange={onChange} key={c.id} />
      ))}
      {acted.answer ? (
        <p class="answer-text" data-testid="act-answer">
          {str(acted.answer)}
        </p>
      ) : null}
      {cites.length ? (
        <ol class="citations" aria-label="Citations">
          {cites.map((c: any, i: number) => (
            <li class="citation" key={i} data-n={str(c?.n)}>
              <span class="cite-n">[{str(c?.n ?? i + 1)}]</span> <span class="cite-title">{str(c?.title ?? c?.connector ?? '')}</span>
              {c?.path ? <code> {str(c.path)}</code> : null} — <q class="cite-quote">{str(c?.quote ?? c?.text ?? '')}</q> <Mark marking={str(c?.marking)} testid="citation-mark" />
            </li>
          ))}
        </ol>
      ) : null}
    </div>
  );
}
