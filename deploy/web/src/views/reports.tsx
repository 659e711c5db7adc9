// Reports: pick a template, fill its parameters (a country picker, an area drawn on a small map
// or typed as a bbox, a time window), generate with progress, then per-section edits, refresh
// with its diff, version history and exports.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, download, listModels, postSse, type Me, type Model } from '../api';
import { ErrorBox, Mark, SourcePanel, Spinner, fmtTime, str, type SourceRef } from '../components';
import { L, baseMap, bboxOf } from '../geo';
import { countryNames } from '../geo';
import { MARKING_CHOICES } from './documents';

interface Param {
  name: string;
  type: 'text' | 'country' | 'area' | 'time' | 'feed' | 'connector' | 'model';
  description?: string;
  default?: string;
}
interface Template {
  name: string;
  title: string;
  description: string;
  params: Param[];
  sections: { heading: string; form: string }[];
}
interface Portion {
  text: string;
  marking: string;
  citations: number[];
  field?: string;
}
interface Section {
  heading: string;
  form: string;
  portions: Portion[];
  empty?: boolean;
  author_written?: boolean;
  flag?: string;
  instruction?: string;
}
interface RCitation {
  n: number;
  kind: string;
  marking: string;
  title: string;
  source: string;
  chunk_id?: number;
  page?: number;
  path?: string;
  quote: string;
}
interface Version {
  n: number;
  created: number;
  author: string;
  change: string;
  title: string;
  model: string;
  sections: Section[];
  citations: RCitation[];
  banner: string;
  authority: { classified_by: string; derived_from: string; declassify_on: string };
}
interface ReportView {
  id: string;
  template: string;
  params: Record<string, string>;
  owner: string;
  created: number;
  versions: number[];
  version: Version;
}
interface Diff {
  from: number;
  to: number;
  sections: { heading: string; status: string; lines: { op: string; text: string }[] }[];
}
interface ReportSummary {
  id: string;
  template: string;
  title: string;
  version: number;
  banner: string;
  owner: string;
  created: number;
}

/** A bbox drawn on a small map (drag after pressing "Draw"). */
function BoxPicker({ value, onChange, id, name }: { value: string; onChange: (v: string) => void; id: string; name: string }) {
  const el = useRef<HTMLDivElement>(null);
  const mapRef = useRef<L.Map | null>(null);
  const rect = useRef<L.Rectangle | null>(null);
  const drawing = useRef(false);
  const [on, setOn] = useState(false);
  useEffect(() => {
    const map = baseMap(el.current!);
    mapRef.current = map;
    let start: L.LatLng | null = null;
    let tmp: L.Rectangle | null = null;
    map.on('mousedown', (e: L.LeafletMouseEvent) => {
      if (!drawing.current || e.originalEvent.button !== 0) return;
      start = e.latlng;
      tmp = L.rectangle(L.latLngBounds(e.latlng, e.latlng), { className: 'area', weight: 2, interactive: false }).addTo(map);
    });
    map.on('mousemove', (e: L.LeafletMouseEvent) => {
      if (start && tmp) tmp.setBounds(L.latLngBounds(start, e.latlng));
    });
    const up = (e: MouseEvent) => {
      if (!start) return;
      const b = bboxOf(start, map.mouseEventToLatLng(e));
      if (tmp) map.removeLayer(tmp);
      start = null;
      tmp = null;
      drawing.current = false;
      setOn(false);
      map.dragging.enable();
      if (b) onChange(b.join(','));
    };
    document.addEventListener('mouseup', up);
    const t = setTimeout(() => map.invalidateSize(), 50);
    return () => {
      clearTimeout(t);
      document.removeEventListener('mouseup', up);
      map.remove();
    };
  }, []);
  // Show the typed or drawn bbox.
  useEffect(() => {
    const map = mapRef.current;
    if (!map) return;
    if (rect.current) map.removeLayer(rect.current);
    rect.current = null;
    const v = value.split(',').map(Number);
    if (v.length === 4 && v.every(Number.isFinite) && v[0] < v[2] && v[1] < v[3]) {
      rect.current = L.rectangle([[v[1], v[0]], [v[3], v[2]]], { className: 'area', weight: 2, interactive: false }).addTo(map);
    }
  }, [value]);
  return (
    <div class="box-picker">
      <div class="row">
        <input id={id} data-testid={'param-' + name} value={value} placeholder="minlon,minlat,maxlon,maxlat or a country" onInput={(e) => onChange((e.target as HTMLInputElement).value)} />
        <button
          type="button"
          aria-pressed={on}
          onClick={() => {
            drawing.current = !drawing.current;
            setOn(drawing.current);
            if (drawing.current) mapRef.current?.dragging.disable();
            else mapRef.current?.dragging.enable();
          }}
        >
          Draw box
        </button>
      </div>
      <div class="mini-map" ref={el} role="application" aria-label="Small map: press Draw box, then drag to draw the area" />
    </div>
  );
}

function TimeWindow({ value, onChange, id }: { value: string; onChange: (v: string) => void; id: string }) {
  const [s, e] = value.includes('/') ? value.split('/') : ['', ''];
  const toLocal = (iso: string) => (iso ? iso.replace(/Z$/, '').slice(0, 16) : '');
  const fromLocal = (v: string) => (v ? `${v}:00Z` : '');
  return (
    <div class="row" role="group" aria-label="Time window (UTC)">
      <label for={id + '-start'}>From</label>
      <input id={id + '-start'} type="datetime-local" value={toLocal(s)} onInput={(ev) => onChange(`${fromLocal((ev.target as HTMLInputElement).value)}/${e}`)} />
      <label for={id + '-end'}>To</label>
      <input id={id + '-end'} type="datetime-local" value={toLocal(e)} onInput={(ev) => onChange(`${s}/${fromLocal((ev.target as HTMLInputElement).value)}`)} />
    </div>
  );
}

function NewReport({ templates, models, onReport }: { templates: Template[]; models: Model[]; onReport: (r: ReportView) => void }) {
  const [name, setName] = useState('');
  const [params, setParams] = useState<Record<string, string>>({});
  const [model, setModel] = useState('');
  const [countries, setCountries] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<{ done: number; total: number; sections: Section[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const tpl = templates.find((t) => t.name === name) ?? null;
  useEffect(() => {
    countryNames().then(setCountries);
  }, []);
  useEffect(() => {
    if (!name && templates[0]) setName(templates[0].name);
  }, [templates]);
  useEffect(() => {
    const p: Record<string, string> = {};
    for (const x of tpl?.params ?? []) p[x.name] = x.default ?? '';
    setParams(p);
  }, [name, templates]);
  const set = (k: string, v: string) => setParams((p) => ({ ...p, [k]: v }));
  const generate = async (e: Event) => {
    e.preventDefault();
    if (!tpl) return;
    setBusy(true);
    setError(null);
    setProgress({ done: 0, total: tpl.sections.length, sections: [] });
    const body: Record<string, unknown> = { template: tpl.name, params: Object.fromEntries(Object.entries(params).filter(([, v]) => v.trim() !== '')), stream: true };
    if (model) body.model = model;
    try {
      let got: ReportView | null = null;
      await postSse('/v1/reports', body, (ev) => {
        if (ev.event === 'section') setProgress((p) => ({ done: Number(ev.data?.done ?? 0), total: Number(ev.data?.total ?? p?.total ?? 0), sections: [...(p?.sections ?? []), ev.data?.section as Section] }));
        else if (ev.event === 'report' || ev.event === 'json') got = ev.data as ReportView;
        else if (ev.event === 'error') setError(str(ev.data?.error?.message ?? 'report generation failed'));
      });
      if (got) onReport(got);
    } catch (ex) {
      setError(ex);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="new-report-h" data-testid="new-report">
      <h2 id="new-report-h">New report</h2>
      <form onSubmit={generate}>
        <label for="tpl">Template</label>
        <select id="tpl" data-testid="report-template" value={name} onChange={(e) => setName((e.target as HTMLSelectElement).value)}>
          {templates.map((t) => (
            <option value={t.name} key={t.name}>
              {t.name} — {t.title}
            </option>
          ))}
        </select>
        {tpl ? <p class="hint">{str(tpl.description)}</p> : null}
        {(tpl?.params ?? []).map((p) => {
          const id = 'p-' + p.name;
          const v = params[p.name] ?? '';
          return (
            <div class="param" key={p.name}>
              <label for={p.type === 'time' ? id + '-start' : id}>
                {p.name} {p.default === undefined ? <span class="meta">(required)</span> : null}
              </label>
              {p.description ? <p class="hint">{str(p.description)}</p> : null}
              {p.type === 'country' ? (
                <>
                  <input id={id} data-testid={'param-' + p.name} list="country-list" value={v} onInput={(e) => set(p.name, (e.target as HTMLInputElement).value)} />
                  <datalist id="country-list">
                    {countries.map((c) => (
                      <option value={c} key={c} />
                    ))}
                  </datalist>
                </>
              ) : p.type === 'area' ? (
                <BoxPicker id={id} name={p.name} value={v} onChange={(x) => set(p.name, x)} />
              ) : p.type === 'time' ? (
                <TimeWindow id={id} value={v} onChange={(x) => set(p.name, x)} />
              ) : p.type === 'model' ? (
                <select id={id} data-testid={'param-' + p.name} value={v} onChange={(e) => set(p.name, (e.target as HTMLSelectElement).value)}>
                  <option value="">Default</option>
                  {models.map((m) => (
                    <option value={m.id} key={m.id}>
                      {m.id}
                    </option>
                  ))}
                </select>
              ) : (
                <input id={id} data-testid={'param-' + p.name} value={v} onInput={(e) => set(p.name, (e.target as HTMLInputElement).value)} />
              )}
            </div>
          );
        })}
        <label for="report-model">Model</label>
        <select id="report-model" value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
          <option value="">Default model</option>
          {models.map((m) => (
            <option value={m.id} key={m.id}>
              {m.id}
            </option>
          ))}
        </select>
        <div class="row">
          <button type="submit" class="primary" data-testid="report-generate" disabled={busy || !tpl}>
            Generate
          </button>
        </div>
      </form>
      {busy && progress ? (
        <div data-testid="report-progress">
          <progress max={Math.max(1, progress.total)} value={progress.done} aria-label="Sections written" /> {progress.done} of {progress.total} sections
          <ul>
            {progress.sections.map((s, i) => (
              <li key={i}>{str(s?.heading)}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorBox error={error} />
    </section>
  );
}

function SectionEditor({ report, index, count, onDone }: { report: ReportView; index: number; count: number; onDone: (r: ReportView) => void }) {
  const [how, setHow] = useState<'instruction' | 'text' | 'remove' | 'move'>('instruction');
  const [instruction, setInstruction] = useState('');
  const [text, setText] = useState('');
  const [marking, setMarking] = useState('(U)');
  const [to, setTo] = useState(String(index + 1));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const n = index + 1;
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = how === 'instruction' ? { instruction } : how === 'text' ? { text, marking } : how === 'remove' ? { remove: true } : { move_to: Number(to) };
    setBusy(true);
    setError(null);
    try {
      onDone(await api<ReportView>(`/v1/reports/${encodeURIComponent(report.id)}/sections/${n}`, { body }));
    } catch (ex) {
      setError(ex);
    } finally {
      setBusy(false);
    }
  };
  const base = `edit-${n}`;
  return (
    <form class="section-edit" onSubmit={submit} data-testid="section-edit" aria-label={`Edit section ${n}`}>
      <fieldset>
        <legend>Edit section {n}</legend>
        <div class="row" role="radiogroup" aria-label="Kind of edit">
          {(
            [
              ['instruction', 'Rewrite as instructed'],
              ['text', 'Replace with my text'],
              ['remove', 'Remove'],
              ['move', 'Move'],
            ] as const
          ).map(([k, label]) => (
            <label key={k} class="radio">
              <input type="radio" name={base + '-how'} value={k} checked={how === k} onChange={() => setHow(k)} data-testid={'edit-how-' + k} /> {label}
            </label>
          ))}
        </div>
        {how === 'instruction' ? (
          <>
            <label for={base + '-instr'}>Instruction</label>
            <input id={base + '-instr'} data-testid="edit-instruction" value={instruction} placeholder="shorter; focus on logistics" onInput={(e) => setInstruction((e.target as HTMLInputElement).value)} />
          </>
        ) : how === 'text' ? (
          <>
            <label for={base + '-text'}>Text ([n] cites the report's sources)</label>
            <textarea id={base + '-text'} data-testid="edit-text" rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
            <label for={base + '-mark'}>Portion marking</label>
            <input id={base + '-mark'} data-testid="edit-marking" list="portion-choices" value={marking} onInput={(e) => setMarking((e.target as HTMLInputElement).value)} />
            <datalist id="portion-choices">
              {['(U)', '(CUI)', '(C)', '(S)', '(S//NF)', '(TS)', ...MARKING_CHOICES].map((m) => (
                <option value={m} key={m} />
              ))}
            </datalist>
          </>
        ) : how === 'move' ? (
          <>
            <label for={base + '-to'}>New position (1–{count})</label>
            <input id={base + '-to'} data-testid="edit-move-to" type="number" min={1} max={count} value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
          </>
        ) : (
          <p class="hint">The section will be removed in a new version (older versions keep it).</p>
        )}
        <button type="submit" class="primary" disabled={busy} data-testid="edit-submit">
          Apply
        </button>
        {busy ? <Spinner label="Making a new version…" /> : null}
        <ErrorBox error={error} />
      </fieldset>
    </form>
  );
}

function DiffView({ diff }: { diff: Diff }) {
  return (
    <section class="diff" data-testid="report-diff" aria-label={`Changes from version ${diff.from} to ${diff.to}`}>
      <h3>
        Changes: version {diff.from} → {diff.to}
      </h3>
      {(Array.isArray(diff.sections) ? diff.sections : []).map((s, i) => (
        <div class={'diff-section diff-' + str(s.status)} key={i} data-status={str(s.status)}>
          <h4>
            {str(s.heading)} <span class="meta">({str(s.status)})</span>
          </h4>
          {s.status !== 'unchanged' ? (
            <pre class="diff-lines">
              {(Array.isArray(s.lines) ? s.lines : []).map((l, j) => (
                <span class={l.op === '+' ? 'add' : l.op === '-' ? 'del' : 'keep'} key={j}>
                  {`${l.op} ${str(l.text)}\n`}
                </span>
              ))}
            </pre>
          ) : null}
        </div>
      ))}
    </section>
  );
}

function ReportDoc({ initial, me, onChanged }: { initial: ReportView; me: Me; onChanged: () => void }) {
  const [report, setReport] = useState<ReportView>(initial);
  const [editing, setEditing] = useState<number | null>(null);
  const [diff, setDiff] = useState<Diff | null>(null);
  const [refreshNote, setRefreshNote] = useState('');
  const [busy, setBusy] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [source, setSource] = useState<SourceRef | null>(null);
  const [exported, setExported] = useState('');
  useEffect(() => {
    setReport(initial);
    setDiff(null);
    setEditing(null);
    setRefreshNote('');
  }, [initial]);
  const v = report.version;
  const cites = new Map((Array.isArray(v.citations) ? v.citations : []).map((c) => [Number(c.n), c]));
  const isOwner = report.owner === me.name;
  const latest = Math.max(...(report.versions.length ? report.versions : [v.n]));
  const updated = (r: ReportView) => {
    setReport(r);
    setEditing(null);
    onChanged();
  };
  const loadVersion = async (n: number) => {
    setError(null);
    try {
      setReport(await api<ReportView>(`/v1/reports/${encodeURIComponent(report.id)}?version=${n}`));
      setDiff(null);
    } catch (e) {
      setError(e);
    }
  };
  const refresh = async () => {
    setBusy('refresh');
    setError(null);
    try {
      const r = await api<{ report: ReportView; regenerated: number[]; flagged: number[]; diff: Diff | null }>(`/v1/reports/${encodeURIComponent(report.id)}/refresh`, { method: 'POST' });
      setReport(r.report);
      setDiff(r.diff);
      const regen = Array.isArray(r.regenerated) ? r.regenerated : [];
      const flagged = Array.isArray(r.flagged) ? r.flagged : [];
      setRefreshNote(
        r.diff
          ? `Refreshed: ${regen.length ? `sections ${regen.join(', ')} rewritten` : 'no section rewritten'}${flagged.length ? `; sections ${flagged.join(', ')} flagged for review` : ''}.`
          : 'Refreshed: nothing changed.',
      );
      onChanged();
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const compareWithPrevious = async () => {
    if (v.n <= 1) return;
    try {
      setDiff(await api<Diff>(`/v1/reports/${encodeURIComponent(report.id)}/diff?from=${v.n - 1}&to=${v.n}`));
    } catch (e) {
      setError(e);
    }
  };
  const exportAs = async (format: string) => {
    setError(null);
    setBusy('export');
    try {
      const name = await download(`/v1/reports/${encodeURIComponent(report.id)}/export?format=${format}&version=${v.n}`, `report-${report.id}.${format}`);
      setExported(`Downloaded ${name}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const openCite = (n: number) => {
    const c = cites.get(n);
    if (!c) return;
    if (c.kind === 'document') setSource({ doc_id: c.source, n: c.n, title: c.title, quote: c.quote, marking: c.marking });
    else setSource(null);
  };
  return (
    <div class={'report-layout' + (source ? ' with-source' : '')}>
      <article class="report card" data-testid="report" data-id={report.id} data-version={v.n} aria-labelledby="report-title">
        <div class="report-banner-line">
          <Mark marking={v.banner} testid="report-banner" />
        </div>
        <h2 id="report-title" data-testid="report-title">
          {str(v.title)}
        </h2>
        <p class="meta">
          Version {v.n} of {latest} · {str(v.change)} · by {str(v.author)} · {fmtTime(v.created)} · model {str(v.model)}
        </p>
        <div class="row toolbar-row">
          <span class="field-inline">
            <label for="report-version">Version</label>
            <select id="report-version" data-testid="report-version" value={String(v.n)} onChange={(e) => loadVersion(Number((e.target as HTMLSelectElement).value))}>
              {report.versions.map((n) => (
                <option value={String(n)} key={n}>
                  {n}
                </option>
              ))}
            </select>
          </span>
          {v.n > 1 ? (
            <button type="button" onClick={compareWithPrevious} data-testid="report-diff-prev">
              Changes from version {v.n - 1}
            </button>
          ) : null}
          {isOwner ? (
            <button type="button" onClick={refresh} disabled={!!busy} data-testid="report-refresh">
              Refresh
            </button>
          ) : null}
          <span role="group" aria-label="Export" class="row">
            {['md', 'html', 'pdf', 'docx'].map((f) => (
              <button type="button" key={f} onClick={() => exportAs(f)} disabled={!!busy} data-testid={'export-' + f}>
                Export {f.toUpperCase()}
              </button>
            ))}
          </span>
        </div>
        {busy === 'refresh' ? <Spinner label="Re-running each section's retrieval…" /> : null}
        {busy === 'export' ? <Spinner label="Exporting…" /> : null}
        <p class="hint" role="status" data-testid="report-status">
          {refreshNote} {exported}
        </p>
        <ErrorBox error={error} />
        {diff ? <DiffView diff={diff} /> : null}
        {(Array.isArray(v.sections) ? v.sections : []).map((s, i) => (
          <section class={'report-section' + (s.empty ? ' empty' : '')} data-testid="report-section" data-n={i + 1} key={`${v.n}-${i}`} aria-labelledby={`sec-${i}`}>
            <div class="panel-head">
              <h3 id={`sec-${i}`}>
                {i + 1}. {str(s.heading)}
              </h3>
              {isOwner && v.n === latest ? (
                <button type="button" onClick={() => setEditing(editing === i ? null : i)} aria-expanded={editing === i} data-testid="section-edit-toggle" aria-label={`Edit section ${i + 1}: ${str(s.heading)}`}>
                  Edit
                </button>
              ) : null}
            </div>
            {s.flag ? (
              <p class="flag" data-testid="section-flag">
                {str(s.flag)}
              </p>
            ) : null}
            {s.author_written ? <p class="meta">Written by the author.</p> : null}
            {s.form === 'table' ? (
              <table class="portions">
                <tbody>
                  {s.portions.map((p, j) => (
                    <tr key={j} data-testid="portion">
                      <th scope="row">{str(p.field)}</th>
                      <td>
                        <Mark marking={p.marking} testid="portion-mark" /> {str(p.text)} <Cites nums={p.citations} onCite={openCite} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : s.form === 'bullets' ? (
              <ul class="portions">
                {s.portions.map((p, j) => (
                  <li key={j} data-testid="portion">
                    <Mark marking={p.marking} testid="portion-mark" /> {str(p.text)} <Cites nums={p.citations} onCite={openCite} />
                  </li>
                ))}
              </ul>
            ) : (
              s.portions.map((p, j) => (
                <p key={j} data-testid="portion">
                  <Mark marking={p.marking} testid="portion-mark" /> {str(p.text)} <Cites nums={p.citations} onCite={openCite} />
                </p>
              ))
            )}
            {editing === i ? <SectionEditor report={report} index={i} count={v.sections.length} onDone={updated} /> : null}
          </section>
        ))}
        {cites.size ? (
          <section aria-label="Sources">
            <h3>Sources</h3>
            <ol class="citations" data-testid="report-citations">
              {[...cites.values()].map((c) => (
                <li key={c.n} data-n={c.n}>
                  <button type="button" class="cite" onClick={() => openCite(c.n)} aria-label={`Open source ${c.n}`} disabled={c.kind !== 'document'}>
                    [{c.n}]
                  </button>{' '}
                  <span class="cite-title">{str(c.title)}</span> {c.path ? <code>{str(c.path)}</code> : null} — <q class="cite-quote">{str(c.quote)}</q> <Mark marking={c.marking} testid="citation-mark" />
                </li>
              ))}
            </ol>
          </section>
        ) : null}
        {v.authority ? (
          <dl class="kv authority">
            <dt>Classified by</dt>
            <dd>{str(v.authority.classified_by)}</dd>
            <dt>Derived from</dt>
            <dd>{str(v.authority.derived_from)}</dd>
            <dt>Declassify on</dt>
            <dd>{str(v.authority.declassify_on)}</dd>
          </dl>
        ) : null}
      </article>
      {source ? <SourcePanel source={source} onClose={() => setSource(null)} /> : null}
    </div>
  );
}

function Cites({ nums, onCite }: { nums: number[]; onCite: (n: number) => void }) {
  return (
    <>
      {(Array.isArray(nums) ? nums : []).map((n) => (
        <button type="button" class="cite" key={n} onClick={() => onCite(n)} aria-label={`Open source ${n}`} data-testid="cite" data-n={n}>
          [{n}]
        </button>
      ))}
    </>
  );
}

export function ReportsView({ me }: { me: Me }) {
  const [templates, setTemplates] = useState<Template[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [list, setList] = useState<ReportSummary[]>([]);
  const [open, setOpen] = useState<ReportView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const loadList = () =>
    api<{ reports: ReportSummary[] }>('/v1/reports').then(
      (r) => setList(Array.isArray(r?.reports) ? r.reports : []),
      setError,
    );
  useEffect(() => {
    api<{ templates: Template[] }>('/v1/report-templates').then((r) => setTemplates(Array.isArray(r?.templates) ? r.templates : []), setError);
    listModels().then(setModels, () => {});
    loadList();
  }, []);
  const openReport = async (id: string) => {
    setError(null);
    try {
      setOpen(await api<ReportView>('/v1/reports/' + encodeURIComponent(id)));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <div class="reports-layout">
      <h1>Reports</h1>
      <ErrorBox error={error} />
      <div class="reports-top">
        <NewReport
          templates={templates}
          models={models}
          onReport={(r) => {
            setOpen(r);
            loadList();
          }}
        />
        <section class="card" aria-labelledby="reports-h">
          <h2 id="reports-h">Your reports</h2>
          {list.length === 0 ? <p class="hint">No reports yet.</p> : null}
          <ul class="report-list" data-testid="report-list">
            {list.map((r) => (
              <li key={r.id} data-id={r.id}>
                <Mark marking={r.banner} testid="report-list-mark" />{' '}
                <button type="button" class="link" onClick={() => openReport(r.id)} data-testid="report-open">
                  {str(r.title)}
                </button>{' '}
                <span class="meta">
                  v{r.version} · {str(r.template)} · {str(r.owner)} · {fmtTime(r.created)}
                </span>
              </li>
            ))}
          </ul>
        </section>
      </div>
      {open ? <ReportDoc initial={open} me={me} onChanged={loadList} /> : null}
    </div>
  );
}
