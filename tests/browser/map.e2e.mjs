// End-to-end test of the /map UI in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; Playwright's own browser download is never used).
//
//   SEXTANT_URL=http://127.0.0.1:8080 SEXTANT_TOKEN=sxt_… E2E_BBOX=-5,41,10,51 \
//   E2E_QUESTION="What is the capital of France?" [E2E_SCREENSHOT=map.png] node tests/browser/map.e2e.mjs
//
// Optional: E2E_TIMEOUT_S (default 240), CHROMIUM (default /usr/bin/chromium),
// E2E_ALLOW_NO_BASEMAP=1 (a server without the country polygons: the page must still work).
//
// Opens /map, enters the token, draws E2E_BBOX with the mouse in Box mode, asks E2E_QUESTION and
// waits (up to E2E_TIMEOUT_S, default 240 s: the chat model runs on the CPU) for the answer.
// Then asserts: the answer text and both marking banners are shown; at least one citation and
// one pin; every pin's popup shows its citation's quote as text; clicking a citation opens a
// popup; a mouse click on a pin opens its popup; no document text was run as HTML (no
// `window.__xss`, no injected <img>, a quote holding markup appears literally); no console
// error, page error or CSP violation. Then it draws a polygon by clicks, checks Esc and Clear.
// Prints one JSON summary line on stdout; exits 1 with a message on the first failed assertion.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const started = Date.now();
const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    fail(`environment variable ${name} is required`);
  }
  return v;
};

class AssertionFailed extends Error {}
function fail(message) {
  throw new AssertionFailed(message);
}
function check(cond, message) {
  if (!cond) fail(message);
}
const squash = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();

async function main() {
  const base = env('SEXTANT_URL').replace(/\/+$/, '');
  const token = env('SEXTANT_TOKEN', '');
  const bbox = env('E2E_BBOX').split(',').map(Number);
  check(bbox.length === 4 && bbox.every(Number.isFinite), `E2E_BBOX must be "minlon,minlat,maxlon,maxlat", got ${process.env.E2E_BBOX}`);
  const [minLon, minLat, maxLon, maxLat] = bbox;
  check(minLon < maxLon && minLat < maxLat, `E2E_BBOX must have min < max, got ${bbox}`);
  const question = env('E2E_QUESTION');
  const screenshot = process.env.E2E_SCREENSHOT || '';
  const timeoutMs = Number(env('E2E_TIMEOUT_S', '240')) * 1000;
  const executablePath = env('CHROMIUM', '/usr/bin/chromium');
  const allowNoBasemap = process.env.E2E_ALLOW_NO_BASEMAP === '1';
  check(fs.existsSync(executablePath), `${executablePath} is missing: run scripts/setup-browser.sh`);

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-e2e-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const problems = []; // console errors, page errors, CSP violations, failed requests
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      // With E2E_ALLOW_NO_BASEMAP=1 the basemap's 404 is expected; nothing else is.
      if (allowNoBasemap && msg.location().url.endsWith('/map/basemap.geojson')) return;
      problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
    // Runs before the page's own scripts; CDP-injected, so the page's CSP does not apply to it.
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
      });
    });

    const resp = await page.goto(`${base}/map`, { waitUntil: 'load' });
    check(resp && resp.status() === 200, `GET /map answered ${resp && resp.status()}`);
    const csp = resp.headers()['content-security-policy'] || '';
    check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `/map lacks a strict Content-Security-Policy: "${csp}"`);
    await page.waitForFunction(() => window.sextantMap && window.sextant, null, { timeout: 15000 });
    await page.waitForFunction(() => document.querySelector('#map').dataset.basemap !== 'loading', null, { timeout: 15000 });
    const basemap = await page.getAttribute('#map', 'data-basemap');
    const countries = await page.locator('#map path.country').count();
    if (!allowNoBasemap) {
      const note = squash(await page.textContent('#basemap-note'));
      check(basemap === 'loaded' && countries > 0, `no basemap drawn (${countries} countries; page says: "${note}"); set E2E_ALLOW_NO_BASEMAP=1 to test without one`);
    }

    // The token, as a user types it; kept for the session.
    await page.fill('#token', token);
    check(await page.isDisabled('#ask'), 'Ask is enabled before an area is drawn');

    // Bring the box into view as a user would (pan and zoom), then draw it with the mouse.
    await page.evaluate(([s, w, n, e]) => {
      window.sextantMap.fitBounds([[s, w], [n, e]], { padding: [60, 60], animate: false });
    }, [minLat, minLon, maxLat, maxLon]);
    const toScreen = (lat, lon) =>
      page.evaluate(([lat, lon]) => {
        const p = window.sextantMap.latLngToContainerPoint([lat, lon]);
        const r = window.sextantMap.getContainer().getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, [lat, lon]);
    const nw = await toScreen(maxLat, minLon);
    const se = await toScreen(minLat, maxLon);
    await page.click('#mode-box');
    check((await page.getAttribute('#mode-box', 'aria-pressed')) === 'true', 'Box mode did not turn on');
    await page.mouse.move(nw.x, nw.y);
    await page.mouse.down();
    await page.mouse.move((nw.x + se.x) / 2, (nw.y + se.y) / 2, { steps: 5 });
    await page.mouse.move(se.x, se.y, { steps: 5 });
    await page.mouse.up();
    const drawn = JSON.parse((await page.getAttribute('#map', 'data-area')) || 'null');
    check(drawn && Array.isArray(drawn.bbox), `drawing a box left no bbox area (data-area: ${JSON.stringify(drawn)})`);
    // One pixel of slack at the drawn zoom, in degrees.
    const slackLon = (maxLon - minLon) * 0.03 + 1e-4;
    const slackLat = (maxLat - minLat) * 0.03 + 1e-4;
    const want = [minLon, minLat, maxLon, maxLat];
    drawn.bbox.forEach((v, i) => {
      const slack = i % 2 === 0 ? slackLon : slackLat;
      check(Math.abs(v - want[i]) <= slack, `drawn box ${JSON.stringify(drawn.bbox)} is not E2E_BBOX ${JSON.stringify(want)}`);
    });

    await page.fill('#question', question);
    check(await page.isEnabled('#ask'), 'Ask is still disabled after drawing an area and typing a question');
    const askStarted = Date.now();
    // The server's own answer, to compare what the page shows against.
    const askResponse = page.waitForResponse((r) => r.url().endsWith('/v1/geo/ask') && r.request().method() === 'POST', { timeout: timeoutMs });
    askResponse.catch(() => {}); // awaited below; a timeout is reported there
    await page.click('#ask');
    await page.waitForFunction(
      () => ['done', 'error'].includes(document.querySelector('#answer-panel').dataset.state),
      null,
      { timeout: timeoutMs, polling: 250 },
    );
    const askMs = Date.now() - askStarted;
    const state = await page.getAttribute('#answer-panel', 'data-state');
    if (state !== 'done') fail(`the ask failed; the page shows: ${squash(await page.textContent('#error'))}`);
    const server = await (await askResponse).json();
    const serverQuote = new Map((server.citations || []).map((c) => [Number(c.n), String(c.quote ?? '')]));

    // What the page shows.
    const shown = await page.evaluate(() => {
      const text = (sel) => document.querySelector(sel)?.textContent ?? '';
      return {
        answer: text('#answer-text'),
        top: text('#marking-top'),
        bottom: text('#marking-bottom'),
        citations: [...document.querySelectorAll('#citations li')].map((li) => ({
          n: Number(li.dataset.n),
          quote: li.querySelector('.cite-quote')?.textContent ?? '',
          text: li.textContent,
          hasPin: li.classList.contains('has-pin'),
        })),
        pinsAttr: Number(document.querySelector('#map').dataset.pins),
        pinPaths: document.querySelectorAll('#map .leaflet-interactive.pin').length,
        pins: window.sextant.pinCount(),
      };
    });
    check(squash(shown.answer).length > 0, 'the answer text is empty');
    check(squash(shown.answer) === squash(server.answer), `the page shows "${squash(shown.answer)}" for the answer "${squash(server.answer)}"`);
    check(squash(shown.top) === squash(server.marking), `the banner shows "${squash(shown.top)}" for the marking "${server.marking}"`);
    check(shown.citations.length === serverQuote.size, `${shown.citations.length} citations listed, the server sent ${serverQuote.size}`);
    for (const c of shown.citations) {
      check(squash(c.quote) === squash(serverQuote.get(c.n)), `citation [${c.n}] shows "${squash(c.quote)}" for the quote "${squash(serverQuote.get(c.n))}"`);
    }
    check(squash(shown.top).length > 0 && shown.top === shown.bottom, `marking banners missing or different: top "${shown.top}", bottom "${shown.bottom}"`);
    check(shown.citations.length >= 1, 'no citation is listed');
    check(shown.pins >= 1, 'no pin on the map');
    check(shown.pinPaths === shown.pins && shown.pinsAttr === shown.pins, `pin counts disagree: ${shown.pinPaths} .pin paths, data-pins ${shown.pinsAttr}, ${shown.pins} markers`);

    // Every pin's popup holds its citation's quote, as text.
    const byN = new Map(shown.citations.map((c) => [c.n, c]));
    // The open popup's text. A closed popup stays in the DOM while it fades out (200 ms), so
    // wait until exactly one is left.
    const popupText = async () => {
      const handle = await page.waitForFunction(
        () => {
          const all = document.querySelectorAll('.leaflet-popup');
          const content = all.length === 1 && all[0].querySelector('.leaflet-popup-content .pin-popup');
          return content ? content.textContent : false;
        },
        null,
        { timeout: 5000 },
      );
      return handle.jsonValue();
    };
    let markupQuotes = 0;
    for (let i = 0; i < shown.pins; i++) {
      const n = await page.evaluate((i) => window.sextant.pinCitation(i), i);
      const cite = byN.get(n);
      check(cite, `pin ${i} names citation [${n}], which is not listed`);
      await page.evaluate((i) => window.sextant.openPin(i), i);
      const text = squash(await popupText());
      check(text.includes(squash(serverQuote.get(n))), `pin ${i}'s popup does not show citation [${n}]'s quote "${squash(cite.quote)}"; popup: "${text}"`);
      check(text.includes(`[${n}]`), `pin ${i}'s popup lacks its citation number [${n}]`);
      if (/<[a-z]/i.test(serverQuote.get(n))) markupQuotes++; // shown literally: checked just above
    }

    // Clicking a citation with a pin opens that pin's popup.
    for (const c of shown.citations.filter((c) => c.hasPin)) {
      await page.evaluate(() => window.sextantMap.closePopup());
      await page.click(`#citations li[data-n="${c.n}"]`);
      const text = squash(await popupText());
      check(text.includes(squash(c.quote)), `clicking citation [${c.n}] did not open a popup with its quote; popup: "${text}"`);
    }

    // A real mouse click on a pin (the first one inside the map's view) opens a popup.
    await page.evaluate(() => window.sextantMap.closePopup());
    const size = await page.evaluate(() => window.sextantMap.getSize());
    const box = await page.locator('#map').boundingBox();
    let clicked = false;
    for (let i = 0; i < shown.pins && !clicked; i++) {
      const p = await page.evaluate((i) => window.sextant.pinPoint(i), i);
      if (p.x < 20 || p.y < 20 || p.x > size.x - 20 || p.y > size.y - 20) continue;
      await page.mouse.click(box.x + p.x, box.y + p.y);
      await popupText();
      clicked = true;
    }
    check(clicked, 'no pin lies inside the map view after fitting the map to the pins');
    if (screenshot) {
      await page.waitForTimeout(400); // let the popup finish fading in
      await page.screenshot({ path: screenshot });
    }

    // Nothing the server sent ran as HTML.
    const xss = await page.evaluate(() => ({
      flag: window.__xss ?? null,
      injected: document.querySelectorAll('#panel img, .leaflet-popup img, img[src="x"], #panel script').length,
      csp: window.__csp,
    }));
    check(xss.flag === null, `window.__xss was set to ${xss.flag}: server text ran as HTML`);
    check(xss.injected === 0, `${xss.injected} element(s) injected from server text (img/script in the panel or popups)`);
    const anyMarkup = shown.citations.some((c) => /<[a-z]/i.test(c.text)) || /<[a-z]/i.test(shown.answer);

    // Polygon mode: three clicks and a double-click close a polygon; Esc cancels one; Clear empties.
    await page.evaluate(() => window.sextantMap.closePopup());
    await page.waitForFunction(() => !document.querySelector('.leaflet-popup'), null, { timeout: 5000 });
    const at = (fx, fy) => ({ x: box.x + size.x * fx, y: box.y + size.y * fy });
    await page.click('#mode-polygon');
    for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3]]) await page.mouse.click(at(fx, fy).x, at(fx, fy).y);
    await page.keyboard.press('Escape');
    for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7]]) await page.mouse.click(at(fx, fy).x, at(fx, fy).y);
    await page.mouse.dblclick(at(0.35, 0.75).x, at(0.35, 0.75).y);
    const poly = JSON.parse((await page.getAttribute('#map', 'data-area')) || 'null');
    check(poly && poly.type === 'Polygon', `Polygon mode drew no polygon (data-area: ${JSON.stringify(poly)})`);
    const ring = poly.coordinates[0];
    check(ring.length === 5 && ring[0].join() === ring[4].join(), `the polygon should be a closed ring of 4 corners after Esc cancelled the first attempt: ${JSON.stringify(ring)}`);
    await page.click('#clear');
    check((await page.getAttribute('#map', 'data-area')) === '', 'Clear left an area');
    check((await page.getAttribute('#map', 'data-pins')) === '0', 'Clear left pins');
    check(await page.isDisabled('#ask'), 'Ask is enabled after Clear');

    const csp2 = await page.evaluate(() => window.__csp);
    problems.push(...csp2.map((v) => `CSP violation: ${v}`));
    check(problems.length === 0, `the page reported problems:\n  ${problems.join('\n  ')}`);

    console.log(
      JSON.stringify({
        ok: true,
        pins: shown.pins,
        citations: shown.citations.length,
        cited_with_pin: shown.citations.filter((c) => c.hasPin).length,
        answer_chars: squash(shown.answer).length,
        marking: squash(shown.top),
        basemap,
        countries,
        drawn_bbox: drawn.bbox,
        markup_quotes_literal: markupQuotes,
        markup_shown_as_text: anyMarkup,
        ask_ms: askMs,
        total_ms: Date.now() - started,
        screenshot: screenshot || null,
      }),
    );
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  if (err instanceof AssertionFailed) console.error(`map e2e FAILED: ${err.message}`);
  else console.error(`map e2e FAILED (error): ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
