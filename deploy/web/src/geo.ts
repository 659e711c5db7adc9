// Leaflet without tiles: the Natural Earth basemap from the server (/map/basemap.geojson),
// a graticule, and the country names for pickers. Leaflet's CSS and images are bundled.
import L from 'leaflet';
import 'leaflet/dist/leaflet.css';
import iconUrl from 'leaflet/dist/images/marker-icon.png';
import iconRetinaUrl from 'leaflet/dist/images/marker-icon-2x.png';
import shadowUrl from 'leaflet/dist/images/marker-shadow.png';

L.Icon.Default.mergeOptions({ iconUrl, iconRetinaUrl, shadowUrl });
// Leaflet would otherwise guess the image path from its CSS at run time.
delete (L.Icon.Default.prototype as any)._getIconUrl;

export { L };

export const BASEMAP_URL = '/map/basemap.geojson';

let basemap: Promise<any> | null = null;

/** The basemap GeoJSON, fetched once. */
export function loadBasemap(): Promise<any> {
  if (!basemap) {
    basemap = fetch(BASEMAP_URL, { credentials: 'same-origin' }).then(async (r) => {
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      return r.json();
    });
    basemap.catch(() => {
      basemap = null;
    });
  }
  return basemap;
}

/** Country names from the basemap (sorted), or [] without one. */
export async function countryNames(): Promise<string[]> {
  try {
    const g = await loadBasemap();
    const names = new Set<string>();
    for (const f of Array.isArray(g?.features) ? g.features : []) {
      const n = f?.properties?.name;
      if (typeof n === 'string' && n) names.add(n);
    }
    return [...names].sort((a, b) => a.localeCompare(b));
  } catch {
    return [];
  }
}

// Country polygons made for a flat map (see deploy/map/map.js for the reasoning): rings that
// cross the antimeridian are unwrapped, polar rings closed, and copies drawn one world over.
export function planar(geojson: any) {
  const features = geojson && Array.isArray(geojson.features) ? geojson.features : [];
  const unwrap = (ring: number[][]) => {
    const out: number[][] = [];
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
  const shift = (rings: number[][][], by: number) => rings.map((r) => r.map(([lon, lat]) => [lon + by, lat]));
  const out: any[] = [];
  for (const f of features) {
    const g = f && f.geometry;
    if (!g) continue;
    const polygons = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
    const parts: number[][][][] = [];
    for (const poly of polygons) {
      if (!Array.isArray(poly) || !poly.length) continue;
      const rings = poly.map(unwrap);
      const lons = rings[0].map((p: number[]) => p[0]);
      parts.push(rings);
      if (Math.max(...lons) > 180) parts.push(shift(rings, -360));
      if (Math.min(...lons) < -180) parts.push(shift(rings, 360));
    }
    if (parts.length) out.push({ type: 'Feature', properties: f.properties || {}, geometry: { type: 'MultiPolygon', coordinates: parts } });
  }
  return { type: 'FeatureCollection', features: out };
}

export const WORLD = L.latLngBounds([-85, -180], [85, 180]);

/** A tile-less map in `el`: graticule and (when the server has it) the basemap. */
export function baseMap(el: HTMLElement, onBasemap?: (state: 'loaded' | 'missing', message?: string) => void): L.Map {
  const map = L.map(el, {
    attributionControl: false,
    zoomControl: true,
    worldCopyJump: false,
    maxBounds: L.latLngBounds([-90, -200], [90, 200]),
    maxBoundsViscosity: 1.0,
    minZoom: 1,
    maxZoom: 12,
    boxZoom: false,
    zoomSnap: 0.25,
    zoomDelta: 0.5,
  });
  map.fitBounds(WORLD);
  const graticule = L.layerGroup().addTo(map);
  for (let lon = -180; lon <= 180; lon += 30) L.polyline([[-85, lon], [85, lon]], { className: 'graticule', interactive: false }).addTo(graticule);
  for (let lat = -60; lat <= 60; lat += 30) L.polyline([[lat, -180], [lat, 180]], { className: 'graticule', interactive: false }).addTo(graticule);
  loadBasemap().then(
    (g) => {
      L.geoJSON(planar(g) as any, { interactive: false, style: () => ({ className: 'country', weight: 0.6 }) }).addTo(map);
      el.dataset.basemap = 'loaded';
      onBasemap?.('loaded');
    },
    (e) => {
      el.dataset.basemap = 'missing';
      onBasemap?.('missing', e instanceof Error ? e.message : String(e));
    },
  );
  return map;
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
export const clampLon = (x: number) => round6(Math.max(-180, Math.min(180, x)));
export const clampLat = (x: number) => round6(Math.max(-90, Math.min(90, x)));

/** The bbox [w, s, e, n] of a drag from `start` to `end`, clamped; null when degenerate. */
export function bboxOf(start: L.LatLng, end: L.LatLng): [number, number, number, number] | null {
  const b = L.latLngBounds(start, end);
  const box: [number, number, number, number] = [clampLon(b.getWest()), clampLat(b.getSouth()), clampLon(b.getEast()), clampLat(b.getNorth())];
  return box[0] < box[2] && box[1] < box[3] ? box : null;
}
