// Sextant's offline map UI (served at /map): the Natural Earth basemap drawn by Leaflet, hand-made
// Box and Polygon draw tools, and POST /v1/geo/ask with the drawn area. Everything the server
// sends (answers, titles, quotes, markings, country names, error messages) reaches the page as
// text: through textContent and DOM nodes, never innerHTML, and Leaflet popups are given DOM
// elements, never HTML strings. The Content-Security-Policy is the second line of defence.
'use strict';

(function () {
  const TOKEN_KEY = 'sextant.token';
  const ASK_URL = '/v1/geo/ask';
  const BASEMAP_URL = '/map/basemap.geojson';

  const $ = (id) => document.getElementById(id);
  const ui = {
    map: $('map'),
    token: $('token'),
    question: $('question'),
    ask: $('ask'),
    modeBox: $('mode-box'),
    modePolygon: $('mode-polygon'),
    clear: $('clear'),
    hint: $('draw-hint'),
    areaSummary: $('area-summary'),
    basemapNote: $('basemap-note'),
    panel: $('answer-panel'),
    status: $('status'),
    error: $('error'),
    answer: $('answer'),
    answerText: $('answer-text'),
    citations: $('citations'),
    markingTop: $('marking-top'),
    markingBottom: $('marking-bottom'),
  };

  // ---- the map -------------------------------------------------------------------------------

  const WORLD = L.latLngBounds([-85, -180], [85, 180]);
  const map = L.map(ui.map, {
    attributionControl: false, // its default prefix links to leafletjs.com; credits are in the panel
    zoomControl: true,
    worldCopyJump: false,
    maxBounds: L.latLngBounds([-90, -200], [90, 200]),
    maxBoundsViscosity: 1.0,
    minZoom: 1,
    maxZoom: 12,
    boxZoom: false, // shift-drag zoom would fight the Box tool
    zoomSnap: 0.25, // no tiles to keep sharp, so fit areas snugly
    zoomDelta: 0.5,
  });
  map.fitBounds(WORLD);
  // For the end-to-end test (and the console): the Leaflet map and a few read-only views.
  window.sextantMap = map;

  // Thin lines every 30 degrees: orientation even when no basemap is installed.
  const graticule = L.layerGroup().addTo(map);
  for (let lon = -180; lon <= 180; lon += 30) {
    L.polyline([[-85, lon], [85, lon]], { className: 'graticule', interactive: false }).addTo(graticule);
  }
  for (let lat = -60; lat <= 60; lat += 30) {
    L.polyline([[lat, -180], [lat, 180]], { className: 'graticule', interactive: false }).addTo(graticule);
  }

  function loadBasemap() {
    fetch(BASEMAP_URL, { credentials: 'same-origin' })
      .then(async (resp) => {
        if (!resp.ok) throw new Error(await errorText(resp));
        return resp.json();
      })
      .then((geojson) => {
        L.geoJSON(planar(geojson), {
          interactive: false,
          style: () => ({ className: 'country', weight: 0.6 }),
        }).addTo(map);
        ui.map.dataset.basemap = 'loaded';
      })
      .catch((err) => {
        ui.map.dataset.basemap = 'missing';
        ui.basemapNote.hidden = false;
        ui.basemapNote.textContent = 'Basemap unavailable: ' + err.message;
      });
  }

  // Country polygons made for a flat map. Natural Earth data converted for spherical renderers
  // (world-atlas, for one) has rings that cross the antimeridian, which a flat map draws as
  // bands across the whole world: each ring is unwrapped so that no edge spans more than 180
  // degrees of longitude, a ring that goes round a pole (Antarctica) is closed along the pole,
  // and a polygon that then reaches past ±180 is drawn a second time one world-width over.
  function planar(geojson) {
    const features = geojson && Array.isArray(geojson.features) ? geojson.features : [];
    const unwrap = (ring) => {
      const out = [];
      let offset = 0;
      for (let i = 0; i < ring.length; i++) {
        const [lon, lat] = ring[i];
        if (i > 0) {
          const d = lon - ring[i - 1][0];
          if (d > 180) offset -= 360;
          else if (d < -180) offset += 360;
        }
        out.push([lon + offset, lat]);
      }
      if (offset !== 0 && out.length) {
        const pole = out.reduce((sum, p) => sum + p[1], 0) < 0 ? -90 : 90;
        out.push([out[out.length - 1][0], pole], [out[0][0], pole], out[0]);
      }
      return out;
    };
    const shift = (rings, by) => rings.map((r) => r.map(([lon, lat]) => [lon + by, lat]));
    const out = [];
    for (const f of features) {
      const g = f && f.geometry;
      if (!g) continue;
      const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
      const parts = [];
      for (const poly of polygons) {
        if (!Array.isArray(poly) || !poly.length) continue;
        const rings = poly.map(unwrap);
        const lons = rings[0].map((p) => p[0]);
        parts.push(rings);
        if (Math.max(...lons) > 180) parts.push(shift(rings, -360));
        if (Math.min(...lons) < -180) parts.push(shift(rings, 360));
      }
      if (parts.length) {
        out.push({ type: 'Feature', properties: f.properties || {}, geometry: { type: 'MultiPolygon', coordinates: parts } });
      }
    }
    return { type: 'FeatureCollection', features: out };
  }

  // ---- drawing -------------------------------------------------------------------------------

  // The area to ask about: {kind: 'bbox'|'polygon', layer, wire} or null.
  let area = null;
  let mode = null; // 'box' | 'polygon' | null
  let box = null; // in-progress box: {start: LatLng, rect}
  let poly = null; // in-progress polygon: {points: [LatLng], line, guide}
  const areaStyle = { className: 'area', weight: 2, interactive: false };
  const CLOSE_PX = 10; // a click this close to the first corner closes the polygon
  const MIN_BOX_PX = 4; // a smaller drag is a click, not a box

  const round6 = (x) => Math.round(x * 1e6) / 1e6;
  const clampLon = (x) => round6(Math.max(-180, Math.min(180, x)));
  const clampLat = (x) => round6(Math.max(-90, Math.min(90, x)));

  function setMode(next) {
    cancelDrawing();
    mode = mode === next ? null : next;
    ui.modeBox.setAttribute('aria-pressed', String(mode === 'box'));
    ui.modePolygon.setAttribute('aria-pressed', String(mode === 'polygon'));
    ui.map.dataset.mode = mode || '';
    // In Box mode a drag draws instead of panning; in Polygon mode a double-click closes the
    // shape instead of zooming.
    if (mode === 'box') map.dragging.disable();
    else map.dragging.enable();
    if (mode === 'polygon') map.doubleClickZoom.disable();
    else map.doubleClickZoom.enable();
    // While drawing, pins let clicks through to the map (see map.css) and no popup is open,
    // so a corner can be placed on a pin and no popup pans the map away mid-shape.
    if (mode !== null) map.closePopup();
    ui.map.classList.toggle('drawing', mode !== null);
    ui.hint.textContent =
      mode === 'box'
        ? 'Box: press, drag and release on the map. Esc cancels.'
        : mode === 'polygon'
          ? 'Polygon: click each corner; double-click or click the first corner to close. Esc cancels.'
          : 'Choose Box or Polygon, then draw on the map (Esc cancels).';
  }

  function cancelDrawing() {
    if (box) {
      map.removeLayer(box.rect);
      box = null;
    }
    if (poly) {
      map.removeLayer(poly.line);
      map.removeLayer(poly.guide);
      poly = null;
    }
  }

  function setArea(next) {
    if (area) map.removeLayer(area.layer);
    area = next;
    if (area) area.layer.addTo(map);
    ui.map.dataset.area = area ? JSON.stringify(area.wire) : '';
    if (!area) ui.areaSummary.textContent = 'No area drawn.';
    else if (area.kind === 'bbox') {
      const [w, s, e, n] = area.wire.bbox;
      ui.areaSummary.textContent = `Box: lon ${w} to ${e}, lat ${s} to ${n}`;
    } else {
      ui.areaSummary.textContent = `Polygon with ${area.wire.coordinates[0].length - 1} corners`;
    }
    updateAsk();
  }

  function finishBox(end) {
    const start = box.start;
    const a = map.latLngToContainerPoint(start);
    const b = map.latLngToContainerPoint(end);
    cancelDrawing();
    if (Math.abs(a.x - b.x) < MIN_BOX_PX || Math.abs(a.y - b.y) < MIN_BOX_PX) return;
    const bounds = L.latLngBounds(start, end);
    const wire = {
      bbox: [
        clampLon(bounds.getWest()),
        clampLat(bounds.getSouth()),
        clampLon(bounds.getEast()),
        clampLat(bounds.getNorth()),
      ],
    };
    const [w, so, e, n] = wire.bbox;
    if (w >= e || so >= n) {
      ui.hint.textContent = 'That box lies outside the world; draw it again.';
      return;
    }
    // Drawn from the clamped numbers: what is shown is exactly what is asked about.
    setArea({ kind: 'bbox', wire, layer: L.rectangle([[so, w], [n, e]], areaStyle) });
    setMode(null); // done drawing: the map pans again and pins open on click
  }

  function finishPolygon() {
    const points = dedupe(poly.points);
    cancelDrawing();
    if (points.length < 3) {
      ui.hint.textContent = 'A polygon needs at least three corners.';
      return;
    }
    const ring = points.map((p) => [clampLon(p.lng), clampLat(p.lat)]);
    ring.push(ring[0].slice());
    const wire = { type: 'Polygon', coordinates: [ring] };
    const shown = ring.slice(0, -1).map(([lon, lat]) => [lat, lon]);
    setArea({ kind: 'polygon', wire, layer: L.polygon(shown, areaStyle) });
    setMode(null);
  }

  // Drops corners that land on (nearly) the same pixel as the one before: a double-click to
  // close adds its two clicks as corners first.
  function dedupe(points) {
    const out = [];
    for (const p of points) {
      const last = out[out.length - 1];
      if (last && map.latLngToContainerPoint(last).distanceTo(map.latLngToContainerPoint(p)) < 3) continue;
      out.push(p);
    }
    return out;
  }

  map.on('mousedown', (e) => {
    if (mode !== 'box' || e.originalEvent.button !== 0) return;
    box = { start: e.latlng, rect: L.rectangle(L.latLngBounds(e.latlng, e.latlng), areaStyle).addTo(map) };
  });
  map.on('mousemove', (e) => {
    if (box) box.rect.setBounds(L.latLngBounds(box.start, e.latlng));
    if (poly && poly.points.length) poly.guide.setLatLngs([poly.points[poly.points.length - 1], e.latlng]);
  });
  // On the document, so a release outside the map still ends the box.
  document.addEventListener('mouseup', (e) => {
    if (!box || e.button !== 0) return;
    finishBox(map.mouseEventToLatLng(e));
  });
  map.on('click', (e) => {
    if (mode !== 'polygon') return;
    if (!poly) {
      poly = {
        points: [],
        line: L.polyline([], areaStyle).addTo(map),
        guide: L.polyline([], { className: 'area-guide', weight: 1, interactive: false }).addTo(map),
      };
    }
    const first = poly.points[0];
    if (first && poly.points.length >= 3 &&
        map.latLngToContainerPoint(first).distanceTo(e.containerPoint) <= CLOSE_PX) {
      finishPolygon();
      return;
    }
    poly.points.push(e.latlng);
    poly.line.setLatLngs(poly.points);
  });
  map.on('dblclick', () => {
    if (mode === 'polygon' && poly) finishPolygon();
  });
  // Capture phase: Leaflet's keyboard handler stops Escape when it closes a popup.
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && (box || poly)) {
      cancelDrawing();
      e.preventDefault();
    }
  }, true);

  ui.modeBox.addEventListener('click', () => setMode('box'));
  ui.modePolygon.addEventListener('click', () => setMode('polygon'));
  ui.clear.addEventListener('click', () => {
    cancelDrawing();
    setArea(null);
    clearPins();
    showAnswer(null);
    setState('idle', '');
  });

  // ---- asking --------------------------------------------------------------------------------

  ui.token.value = sessionStorage.getItem(TOKEN_KEY) || '';
  ui.token.addEventListener('input', () => {
    const t = ui.token.value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  });
  ui.question.addEventListener('input', updateAsk);
  ui.question.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && !ui.ask.disabled) ask();
  });
  ui.ask.addEventListener('click', ask);

  let pending = false;
  function updateAsk() {
    ui.ask.disabled = pending || !area || !ui.question.value.trim();
    ui.ask.title = !area ? 'Draw an area first' : !ui.question.value.trim() ? 'Type a question' : '';
  }

  function setState(state, message) {
    ui.panel.dataset.state = state;
    ui.status.textContent = message;
  }

  function showError(message) {
    ui.error.hidden = !message;
    ui.error.textContent = message || '';
  }

  // The message of an error response, as text: `{"error":{"code","message"}}` when the server
  // sent that, else the status and the start of the body.
  async function errorText(resp) {
    const body = await resp.text().catch(() => '');
    try {
      const err = JSON.parse(body).error;
      if (err && typeof err.message === 'string') {
        return `${resp.status} ${typeof err.code === 'string' ? err.code : ''}: ${err.message}`;
      }
    } catch (_) {
      // not JSON: fall through
    }
    return `${resp.status} ${resp.statusText}${body ? ': ' + body.slice(0, 300) : ''}`;
  }

  async function ask() {
    const question = ui.question.value.trim();
    if (!area || !question || pending) return;
    pending = true;
    updateAsk();
    showError('');
    setState('pending', 'Asking… (the model runs locally and may take a few minutes)');
    const headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    const token = ui.token.value.trim();
    if (token) headers.Authorization = 'Bearer ' + token;
    const started = performance.now();
    try {
      const resp = await fetch(ASK_URL, {
        method: 'POST',
        headers,
        credentials: 'same-origin',
        body: JSON.stringify({ question, area: area.wire }),
      });
      if (!resp.ok) throw new Error(await errorText(resp));
      const body = await resp.json();
      showAnswer(body);
      const secs = ((performance.now() - started) / 1000).toFixed(1);
      setState('done', `Answered in ${secs} s.`);
    } catch (err) {
      showAnswer(null);
      clearPins();
      showError(err.message || String(err));
      setState('error', '');
    } finally {
      pending = false;
      updateAsk();
    }
  }

  // ---- the answer ----------------------------------------------------------------------------

  const pinLayer = L.featureGroup().addTo(map);
  let pinsByCitation = new Map(); // citation number -> [marker]
  let pinList = []; // every marker, in response order

  function clearPins() {
    pinLayer.clearLayers();
    pinsByCitation = new Map();
    pinList = [];
    ui.map.dataset.pins = '0';
  }

  const str = (v) => (v === null || v === undefined ? '' : String(v));

  // A CSS class for a marking banner, from a fixed list (never the server's text itself).
  function markingClass(marking) {
    const m = str(marking).toUpperCase();
    if (m.startsWith('TOP SECRET')) return 'marking-ts';
    if (m.startsWith('SECRET')) return 'marking-s';
    if (m.startsWith('CONFIDENTIAL')) return 'marking-c';
    if (m.startsWith('UNCLASSIFIED')) return 'marking-u';
    return 'marking-other';
  }

  function setBanner(el, marking) {
    el.textContent = str(marking) || 'NO MARKING';
    el.className = 'banner ' + markingClass(marking);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A pin's popup, built from DOM nodes: Leaflet appends an element as it is, whereas a string
  // would be parsed as HTML.
  function popupContent(props) {
    const box = el('div', 'pin-popup');
    box.dataset.citation = str(props.citation);
    const head = el('div', 'pin-head');
    head.append(el('span', 'pin-n', `[${str(props.citation)}]`), ' ', el('span', 'pin-title', str(props.title)));
    box.append(head);
    if (props.name) box.append(el('div', 'pin-place', str(props.name)));
    box.append(el('blockquote', 'pin-quote', str(props.quote)));
    box.append(el('div', 'pin-marking ' + markingClass(props.marking), str(props.marking)));
    return box;
  }

  function addPins(collection) {
    const features = collection && Array.isArray(collection.features) ? collection.features : [];
    for (const f of features) {
      const g = f && f.geometry;
      if (!g || g.type !== 'Point' || !Array.isArray(g.coordinates)) continue;
      const [lon, lat] = g.coordinates.map(Number);
      if (!Number.isFinite(lon) || !Number.isFinite(lat)) continue;
      const props = f.properties || {};
      const marker = L.circleMarker([lat, lon], {
        className: 'pin',
        radius: 8,
        weight: 2,
      });
      marker.bindPopup(popupContent(props), { minWidth: 220, maxWidth: 360, autoPanPadding: [20, 20] });
      marker.addTo(pinLayer);
      const n = Number(props.citation);
      if (!pinsByCitation.has(n)) pinsByCitation.set(n, []);
      pinsByCitation.get(n).push(marker);
      pinList.push(marker);
    }
    ui.map.dataset.pins = String(pinList.length);
  }

  function citationItem(c) {
    const li = el('li', 'citation');
    li.dataset.n = str(c.n);
    li.tabIndex = 0;
    li.append(
      el('span', 'cite-n', `[${str(c.n)}]`), ' ',
      el('span', 'cite-title', str(c.title)), ' — ',
      el('q', 'cite-quote', str(c.quote)), ' ',
      el('span', 'cite-marking ' + markingClass(c.marking), `(${str(c.marking)})`),
    );
    const pins = pinsByCitation.get(Number(c.n)) || [];
    li.classList.toggle('has-pin', pins.length > 0);
    li.title = pins.length ? 'Show on the map' : 'No place on the map for this citation';
    const open = () => {
      if (!pins.length) return;
      map.panTo(pins[0].getLatLng());
      pins[0].openPopup();
    };
    li.addEventListener('click', open);
    li.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open();
      }
    });
    return li;
  }

  function showAnswer(body) {
    clearPins();
    ui.citations.replaceChildren();
    if (!body) {
      ui.answer.hidden = true;
      ui.answerText.textContent = '';
      return;
    }
    addPins(body.pins);
    setBanner(ui.markingTop, body.marking);
    setBanner(ui.markingBottom, body.marking);
    ui.answerText.textContent = str(body.answer);
    ui.answerText.classList.toggle('abstained', body.abstained === true);
    const citations = Array.isArray(body.citations) ? body.citations : [];
    for (const c of citations) ui.citations.append(citationItem(c || {}));
    ui.answer.hidden = false;
    if (pinList.length) {
      map.fitBounds(pinLayer.getBounds().pad(0.3), { maxZoom: 7 });
    } else if (area) {
      map.fitBounds(area.layer.getBounds().pad(0.1));
    }
  }

  // Read-only helpers for the end-to-end test.
  window.sextant = {
    pinCount: () => pinList.length,
    pinCitation: (i) => Number(pinList[i].getPopup().getContent().dataset.citation),
    openPin: (i) => pinList[i].openPopup(),
    pinPoint: (i) => map.latLngToContainerPoint(pinList[i].getLatLng()),
  };

  setMode(null);
  updateAsk();
  loadBasemap();
})();
