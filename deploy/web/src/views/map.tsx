// The map: draw a box or polygon (hand-made tools), ask about the area (/v1/geo/ask) and see
// the cited answer with its pins; list what lies in the area (/v1/geo/search with an empty
// query) with feed records' tracks as lines. Popups are DOM nodes, never HTML strings.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Answer, type Citation } from '../api';
import { ErrorBox, Mark, Registered, SourcePanel, Spinner, str, type SourceRef } from '../components';
import { markingClass } from '../marking';
import { L, baseMap, bboxOf, clampLat, clampLon } from '../geo';

type Mode = 'box' | 'polygon' | null;
interface Area {
  kind: 'bbox' | 'polygon';
  wire: any;
  layer: L.Layer & { getBounds(): L.LatLngBounds };
}

interface Hit {
  doc_id: string;
  chunk_id: number;
  title: string;
  source: string;
  text: string;
  marking: string;
  distance_km?: number;
  start: number;
  end: number;
}

function el(tag: string, className?: string, text?: string) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function popupContent(props: any) {
  const box = el('div', 'pin-popup');
  box.dataset.citation = str(props.citation);
  const head = el('div', 'pin-head');
  head.append(el('span', 'pin-n', `[${str(props.citation)}]`), ' ', el('span', 'pin-title', str(props.title)));
  box.append(head);
  if (props.name) box.append(el('div', 'pin-place', str(props.name)));
  box.append(el('blockquote', 'pin-quote', str(props.quote)));
  box.append(el('div', 'pin-marking mark ' + markingClass(props.marking), str(props.marking)));
  return box;
}

function recordPopup(h: Hit) {
  const box = el('div', 'pin-popup');
  box.append(el('div', 'pin-title', str(h.title)));
  box.append(el('blockquote', 'pin-quote', str(h.text).slice(0, 400)));
  box.append(el('div', 'pin-marking mark ' + markingClass(h.marking), str(h.marking)));
  return box;
}

const DOC_EXT = /\.(md|txt|html?|pdf|docx)$/i;

export function MapView() {
  const mapEl = useRef<HTMLDivElement>(null);
  const mapRef = useRef<L.Map | null>(null);
  const [mode, setModeState] = useState<Mode>(null);
  const modeRef = useRef<Mode>(null);
  const [area, setAreaState] = useState<Area | null>(null);
  const areaRef = useRef<Area | null>(null);
  const [hint, setHint] = useState('Choose Box or Polygon, then draw on the map (Esc cancels).');
  const [basemapNote, setBasemapNote] = useState('');
  const [question, setQuestion] = useState('');
  const [state, setState] = useState<'idle' | 'pending' | 'done' | 'error'>('idle');
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [answer, setAnswer] = useState<(Answer & { pins?: any }) | null>(null);
  const [pinMarkings, setPinMarkings] = useState<string[]>([]);
  const [hits, setHits] = useState<Hit[] | null>(null);
  const [hitsBusy, setHitsBusy] = useState(false);
  const [hitsError, setHitsError] = useState<unknown>(null);
  const [source, setSource] = useState<SourceRef | null>(null);
  const pins = useRef<{ layer: L.FeatureGroup; list: L.CircleMarker[]; byN: Map<number, L.CircleMarker[]> } | null>(null);
  const records = useRef<L.FeatureGroup | null>(null);
  const recordByKey = useRef(new Map<string, L.Layer>());
  const setModeRef = useRef<(m: Mode) => void>(() => {});

  useEffect(() => {
    const container = mapEl.current!;
    const map = baseMap(container, (s, msg) => s === 'missing' && setBasemapNote('Basemap unavailable: ' + (msg ?? '')));
    mapRef.current = map;
    (window as any).sextantMap = map;
    const pinLayer = L.featureGroup().addTo(map);
    pins.current = { layer: pinLayer, list: [], byN: new Map() };
    records.current = L.featureGroup().addTo(map);
    container.dataset.pins = '0';
    container.dataset.area = '';

    let box: { start: L.LatLng; rect: L.Rectangle } | null = null;
    let poly: { points: L.LatLng[]; line: L.Polyline; guide: L.Polyline } | null = null;
    const areaStyle = { className: 'area', weight: 2, interactive: false };
    const CLOSE_PX = 10;
    const MIN_BOX_PX = 4;

    const cancelDrawing = () => {
      if (box) {
        map.removeLayer(box.rect);
        box = null;
      }
      if (poly) {
        map.removeLayer(poly.line);
        map.removeLayer(poly.guide);
        poly = null;
      }
    };
    const setMode = (next: Mode) => {
      cancelDrawing();
      const m = modeRef.current === next ? null : next;
      modeRef.current = m;
      setModeState(m);
      container.dataset.mode = m ?? '';
      if (m === 'box') map.dragging.disable();
      else map.dragging.enable();
      if (m === 'polygon') map.doubleClickZoom.disable();
      else map.doubleClickZoom.enable();
      if (m !== null) map.closePopup();
      container.classList.toggle('drawing', m !== null);
      setHint(
        m === 'box'
          ? 'Box: press, drag and release on the map. Esc cancels.'
          : m === 'polygon'
            ? 'Polygon: click each corner; double-click or click the first corner to close. Esc cancels.'
            : 'Choose Box or Polygon, then draw on the map (Esc cancels).',
      );
    };
    setModeRef.current = setMode;
    const setArea = (next: Area | null) => {
      if (areaRef.current) map.removeLayer(areaRef.current.layer);
      areaRef.current = next;
      if (next) next.layer.addTo(map);
      container.dataset.area = next ? JSON.stringify(next.wire) : '';
      setAreaState(next);
    };
    (setModeRef as any).setArea = setArea;
    (setModeRef as any).cancel = cancelDrawing;

    const finishBox = (end: L.LatLng) => {
      const start = box!.start;
      const a = map.latLngToContainerPoint(start);
      const b = map.latLngToContainerPoint(end);
      cancelDrawing();
      if (Math.abs(a.x - b.x) < MIN_BOX_PX || Math.abs(a.y - b.y) < MIN_BOX_PX) return;
      const bbox = bboxOf(start, end);
      if (!bbox) {
        setHint('That box lies outside the world; draw it again.');
        return;
      }
      const [w, s, e, n] = bbox;
      setArea({ kind: 'bbox', wire: { bbox }, layer: L.rectangle([[s, w], [n, e]], areaStyle) });
      setMode(null);
    };
    const dedupe = (points: L.LatLng[]) => {
      const out: L.LatLng[] = [];
      for (const p of points) {
        const last = out[out.length - 1];
        if (last && map.latLngToContainerPoint(last).distanceTo(map.latLngToContainerPoint(p)) < 3) continue;
        out.push(p);
      }
      return out;
    };
    const finishPolygon = () => {
      const points = dedupe(poly!.points);
      cancelDrawing();
      if (points.length < 3) {
        setHint('A polygon needs at least three corners.');
        return;
      }
      const ring = points.map((p) => [clampLon(p.lng), clampLat(p.lat)]);
      ring.push(ring[0].slice());
      const shown = ring.slice(0, -1).map(([lon, lat]) => [lat, lon] as [number, number]);
      setArea({ kind: 'polygon', wire: { type: 'Polygon', coordinates: [ring] }, layer: L.polygon(shown, areaStyle) });
      setMode(null);
    };

    map.on('mousedown', (e: L.LeafletMouseEvent) => {
      if (modeRef.current !== 'box' || e.originalEvent.button !== 0) return;
      box = { start: e.latlng, rect: L.rectangle(L.latLngBounds(e.latlng, e.latlng), areaStyle).addTo(map) };
    });
    map.on('mousemove', (e: L.LeafletMouseEvent) => {
      if (box) box.rect.setBounds(L.latLngBounds(box.start, e.latlng));
      if (poly && poly.points.length) poly.guide.setLatLngs([poly.points[poly.points.length - 1], e.latlng]);
    });
    const onUp = (e: MouseEvent) => {
      if (!box || e.button !== 0) return;
      finishBox(map.mouseEventToLatLng(e));
    };
    document.addEventListener('mouseup', onUp);
    map.on('click', (e: L.LeafletMouseEvent) => {
      if (modeRef.current !== 'polygon') return;
      if (!poly) {
        poly = {
          points: [],
          line: L.polyline([], areaStyle).addTo(map),
          guide: L.polyline([], { className: 'area-guide', weight: 1, interactive: false }).addTo(map),
        };
      }
      const first = poly.points[0];
      if (first && poly.points.length >= 3 && map.latLngToContainerPoint(first).distanceTo(e.containerPoint) <= CLOSE_PX) {
        finishPolygon();
        return;
      }
      poly.points.push(e.latlng);
      poly.line.setLatLngs(poly.points);
    });
    map.on('dblclick', () => {
      if (modeRef.current === 'polygon' && poly) finishPolygon();
    });
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && (box || poly)) {
        cancelDrawing();
        e.preventDefault();
      }
    };
    document.addEventListener('keydown', onKey, true);

    (window as any).sextant = {
      pinCount: () => pins.current!.list.length,
      pinCitation: (i: number) => Number((pins.current!.list[i].getPopup()!.getContent() as HTMLElement).dataset.citation),
      openPin: (i: number) => pins.current!.list[i].openPopup(),
      pinPoint: (i: number) => map.latLngToContainerPoint(pins.current!.list[i].getLatLng()),
      recordCount: () => records.current!.getLayers().length,
    };
    // The map's size depends on the layout, which settles after the first paint.
    const t = setTimeout(() => map.invalidateSize(), 50);
    return () => {
      clearTimeout(t);
      document.removeEventListener('mouseup', onUp);
      document.removeEventListener('keydown', onKey, true);
      map.remove();
      mapRef.current = null;
      delete (window as any).sextantMap;
      delete (window as any).sextant;
    };
  }, []);

  const clearPins = () => {
    const p = pins.current!;
    p.layer.clearLayers();
    p.list = [];
    p.byN = new Map();
    mapEl.current!.dataset.pins = '0';
    setPinMarkings([]);
  };

  const addPins = (collection: any) => {
    const p = pins.current!;
    const marks: string[] = [];
    for (const f of Array.isArray(collection?.features) ? collection.features : []) {
      const g = f?.geometry;
      if (!g || g.type !== 'Point' || !Array.isArray(g.coordinates)) continue;
      const [lon, lat] = g.coordinates.map(Number);
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) continue;
      const props = f.properties || {};
      const marker = L.circleMarker([lat, lon], { className: 'pin', radius: 8, weight: 2 });
      marker.bindPopup(popupContent(props), { minWidth: 220, maxWidth: 360, autoPanPadding: [20, 20] });
      marker.addTo(p.layer);
      const n = Number(props.citation);
      if (!p.byN.has(n)) p.byN.set(n, []);
      p.byN.get(n)!.push(marker);
      p.list.push(marker);
      if (props.marking) marks.push(str(props.marking));
    }
    mapEl.current!.dataset.pins = String(p.list.length);
    setPinMarkings(marks);
  };

  const ask = async () => {
    const q = question.trim();
    const a = areaRef.current;
    if (!a || !q || state === 'pending') return;
    setError(null);
    setState('pending');
    setStatus('Asking… (the model runs locally and may take a few minutes)');
    const started = performance.now();
    try {
      const body = await api<Answer & { pins: any }>('/v1/geo/ask', { body: { question: q, area: a.wire } });
      clearPins();
      addPins(body.pins);
      setAnswer(body);
      const map = mapRef.current!;
      const p = pins.current!;
      if (p.list.length) map.fitBounds(p.layer.getBounds().pad(0.3), { maxZoom: 7 });
      else map.fitBounds(a.layer.getBounds().pad(0.1));
      setStatus(`Answered in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
      setState('done');
    } catch (e) {
      clearPins();
      setAnswer(null);
      setError(e);
      setStatus('');
      setState('error');
    }
  };

  const clearRecords = () => {
    records.current?.clearLayers();
    recordByKey.current = new Map();
    setHits(null);
  };

  const listArea = async () => {
    const a = areaRef.current;
    if (!a) return;
    setHitsBusy(true);
    setHitsError(null);
    clearRecords();
    try {
      const r = await api<{ marking: string; features: any[] }>('/v1/geo/search', { body: { query: '', area: a.wire, k: 50 } });
      const feats = Array.isArray(r?.features) ? r.features : [];
      const list: Hit[] = [];
      const group = records.current!;
      for (const f of feats) {
        const h = (f?.properties ?? {}) as Hit;
        list.push(h);
        const key = `${h.doc_id}:${h.chunk_id}`;
        const g = f?.geometry;
        if (!g) continue;
        try {
          const layer = L.geoJSON(g, {
            pointToLayer: (_f: any, ll: L.LatLng) => L.circleMarker(ll, { className: 'record', radius: 6, weight: 2 }),
            style: () => ({ className: g.type.includes('LineString') ? 'track' : 'record-shape', weight: 3 }),
          });
          layer.bindPopup(recordPopup(h));
          layer.addTo(group);
          recordByKey.current.set(key, layer);
        } catch {
          // a geometry Leaflet cannot draw: listed only
        }
      }
      setHits(list);
      // Feed records' tracks: their documents carry the positions.
      const ids = [...new Set(list.filter((h) => !DOC_EXT.test(str(h.source))).map((h) => h.doc_id))].slice(0, 30);
      for (const id of ids) {
        api<any>('/v1/documents/' + encodeURIComponent(id))
          .then((d) => {
            const track = Array.isArray(d?.track) ? d.track : [];
            if (track.length < 2 || !records.current) return;
            const pts = track.map((t: any) => [Number(t.position?.[1]), Number(t.position?.[0])] as [number, number]).filter((p: number[]) => p.every(Number.isFinite));
            if (pts.length < 2) return;
            const line = L.polyline(pts, { className: 'track', weight: 3 });
            line.bindPopup(recordPopup({ ...(list.find((h) => h.doc_id === id) as Hit), text: `Track of ${track.length} positions` }));
            line.addTo(records.current);
            mapEl.current!.dataset.tracks = String(Number(mapEl.current!.dataset.tracks ?? 0) + 1);
          })
          .catch(() => {});
      }
    } catch (e) {
      setHitsError(e);
    } finally {
      setHitsBusy(false);
    }
  };

  const openCitation = (c: Citation) => {
    const list = pins.current?.byN.get(Number(c.n)) ?? [];
    if (list.length) {
      mapRef.current!.panTo(list[0].getLatLng());
      list[0].openPopup();
    }
  };

  const clearAll = () => {
    (setModeRef as any).cancel();
    (setModeRef as any).setArea(null);
    clearPins();
    clearRecords();
    setAnswer(null);
    setError(null);
    setState('idle');
    setStatus('');
  };

  const citations = answer && Array.isArray(answer.citations) ? answer.citations : [];
  const askDisabled = state === 'pending' || !area || !question.trim();
  let areaSummary = 'No area drawn.';
  if (area?.kind === 'bbox') {
    const [w, s, e, n] = area.wire.bbox;
    areaSummary = `Box: lon ${w} to ${e}, lat ${s} to ${n}`;
  } else if (area) areaSummary = `Polygon with ${area.wire.coordinates[0].length - 1} corners`;

  return (
    <div class="map-layout">
      <aside id="panel" class="map-panel" data-testid="panel" aria-label="Map tools">
        <h1>Map</h1>
        <fieldset id="draw">
          <legend>Area</legend>
          <div class="row">
            <button type="button" id="mode-box" data-testid="mode-box" aria-pressed={mode === 'box'} title="Press, drag and release on the map" onClick={() => setModeRef.current('box')}>
              Box
            </button>
            <button type="button" id="mode-polygon" data-testid="mode-polygon" aria-pressed={mode === 'polygon'} title="Click the corners; double-click or click the first corner to close" onClick={() => setModeRef.current('polygon')}>
              Polygon
            </button>
            <button type="button" id="clear" data-testid="clear" onClick={clearAll}>
              Clear
            </button>
          </div>
          <p id="draw-hint" class="hint" data-testid="draw-hint">
            {hint}
          </p>
          <p id="area-summary" class="hint" data-testid="area-summary">
            {areaSummary}
          </p>
        </fieldset>
        <label for="question">Question</label>
        <textarea
          id="question"
          data-testid="question"
          rows={3}
          placeholder="What happened in this area?"
          value={question}
          onInput={(e) => setQuestion((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) ask();
          }}
        />
        <div class="row">
          <button type="button" id="ask" data-testid="ask" class="primary" disabled={askDisabled} title={!area ? 'Draw an area first' : !question.trim() ? 'Type a question' : ''} onClick={ask}>
            Ask
          </button>
          <button type="button" id="list-area" data-testid="list-area" disabled={!area || hitsBusy} onClick={listArea}>
            What lies here
          </button>
        </div>
        {basemapNote ? (
          <p id="basemap-note" class="hint" data-testid="basemap-note">
            {basemapNote}
          </p>
        ) : null}
        <section id="answer-panel" data-testid="answer-panel" data-state={state} aria-live="polite" aria-label="Answer">
          <p id="status" data-testid="status" class="hint">
            {status}
          </p>
          {error ? (
            <div id="error" data-testid="error" class="error" role="alert">
              {error instanceof Error ? error.message : str(error)}
            </div>
          ) : null}
          {answer ? (
            <div id="answer" data-testid="answer" class={answer.abstained ? 'abstained' : ''}>
              <Mark marking={answer.marking} testid="answer-mark" />
              {answer.abstained ? <span class="abstain-label">Abstained — the documents do not say</span> : null}
              <p id="answer-text" data-testid="answer-text" class={answer.abstained ? 'abstained' : ''}>
                {str(answer.answer)}
              </p>
              <ol id="citations" class="citations" data-testid="citations">
                {citations.map((c) => {
                  const hasPin = (pins.current?.byN.get(Number(c.n)) ?? []).length > 0;
                  return (
                    <li
                      class={'citation' + (hasPin ? ' has-pin' : '')}
                      data-n={c.n}
                      key={c.n}
                      tabIndex={0}
                      title={hasPin ? 'Show on the map' : 'No place on the map for this citation'}
                      onClick={() => openCitation(c)}
                      onKeyDown={(e) => {
                        if (e.key === 'Enter' || e.key === ' ') {
                          e.preventDefault();
                          openCitation(c);
                        }
                      }}
                    >
                      <span class="cite-n">[{c.n}]</span> <span class="cite-title">{str(c.title)}</span> — <q class="cite-quote">{str(c.quote)}</q> <Mark marking={c.marking} testid="citation-mark" />{' '}
                      <button
                        type="button"
                        class="link"
                        aria-label={`Read source ${c.n}`}
                        data-testid="citation-source"
                        onClick={(e) => {
                          e.stopPropagation();
                          setSource({ doc_id: c.doc_id, n: c.n, title: c.title, start: c.start, end: c.end, quote: c.quote, marking: c.marking });
                        }}
                      >
                        read
                      </button>
                    </li>
                  );
                })}
              </ol>
            </div>
          ) : null}
        </section>
        {pinMarkings.map((m, i) => (
          <Registered marking={m} key={i} />
        ))}
        <section class="records" aria-label="What lies in the area" data-testid="records">
          {hitsBusy ? <Spinner label="Searching the area…" /> : null}
          <ErrorBox error={hitsError} />
          {hits ? (
            <>
              <h2>In the area ({hits.length})</h2>
              <ul data-testid="record-list">
                {hits.map((h, i) => (
                  <li key={i} data-testid="record" data-doc={h.doc_id}>
                    <button
                      type="button"
                      class="link"
                      onClick={() => {
                        const layer = recordByKey.current.get(`${h.doc_id}:${h.chunk_id}`) as any;
                        if (layer?.getBounds) {
                          mapRef.current!.fitBounds(layer.getBounds().pad(0.5), { maxZoom: 8 });
                          layer.openPopup?.();
                        }
                      }}
                    >
                      {str(h.title)}
                    </button>{' '}
                    <Mark marking={h.marking} testid="record-mark" />
                    {h.distance_km !== undefined ? <span class="meta"> {Number(h.distance_km).toFixed(0)} km</span> : null}
                    <p class="snippet">{str(h.text).slice(0, 240)}</p>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
        <p class="credits">Basemap: Natural Earth (public domain). Map: Leaflet (BSD-2-Clause).</p>
      </aside>
      <div id="map" ref={mapEl} data-testid="map" data-pins="0" data-basemap="loading" data-area="" role="application" aria-label="Map: choose Box or Polygon to draw an area" />
      {source ? <SourcePanel source={source} onClose={() => setSource(null)} /> : null}
    </div>
  );
}
