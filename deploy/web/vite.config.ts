// Sextant's analyst web app. Everything is bundled and served by `sextant serve` from dist/
// under a strict Content-Security-Policy (script-src 'self', style-src 'self'): no inline
// script, no inline style, nothing from outside the server.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The preload polyfill is an inline script: the CSP forbids it.
    modulePreload: { polyfill: false },
    // Small images (Leaflet's) become data: URLs, which img-src allows; nothing inline for CSS.
    assetsInlineLimit: 4096,
    cssCodeSplit: false,
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a local `sextant serve`.
    proxy: {
      '/v1': 'http://127.0.0.1:8099',
      '/readyz': 'http://127.0.0.1:8099',
      '/map/basemap.geojson': 'http://127.0.0.1:8099',
    },
  },
});
