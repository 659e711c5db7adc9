// End-to-end test of the analyst web app (deploy/web, served by `sextant serve` at /) in
// headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; Playwright's own
// browser download is never used). tests/web.rs starts the server and runs this script.
//
//   SEXTANT_URL=http://127.0.0.1:8080 E2E_TOKEN_ADMIN=sxt_… E2E_TOKEN_LOW=sxt_… \
//   [SCREENSHOT_DIR=/tmp/shots] node tests/browser/app.e2e.mjs
//
// E2E_TOKEN_ADMIN: a SECRET-cleared admin (reader, ingester, admin). E2E_TOKEN_LOW: an
// UNCLASSIFIED reader. Optional: E2E_QUESTION (chat), E2E_BBOX and E2E_MAP_QUESTION (map),
// E2E_SECRET_TEXT (a phrase only a SECRET document holds: the low user must never see it),
// E2E_LOW_QUESTION (asked by the low user, about the SECRET document), E2E_REPORT_TEMPLATE and
// E2E_REPORT_PARAMS (JSON), E2E_EXPORTS (default "md,html,pdf,docx"), E2E_ACT=1 with E2E_ACT_REQUEST
// (a request that makes a changing call: confirmed once, denied once), E2E_SKIP (comma list of
// steps: chat, compare, documents, reports, calls, admin, map, low, narrow), E2E_TIMEOUT_S
// (default 300: models run on the CPU), CHROMIUM.
//
// Fails on the first failed assertion, on any console error, page error, failed request or
// CSP violation, and on axe-core violations of impact "serious" or "critical" in any main
// view. Prints one JSON summary line on stdout.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const started = Date.now();

class AssertionFailed extends Error {}
function fail(message) {
  throw new AssertionFailed(message);
}
function check(cond, message) {
  if (!cond) fail(message);
}
const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    fail(`environment variable ${name} is required`);
  }
  return v;
};
const squash = (s) => String(s ?? '').replace(/\s+/g, ' ').trim();
const log = (...a) => console.error('[app e2e]', ...a);

const LEVEL = (m) => {
  const s = squash(m).toUpperCase().replace(/^\(|\)$/g, '');
  if (s.startsWith('TOP SECRET') || s.startsWith('TS')) return 4;
  if (s.startsWith('SECRET') || s === 'S' || s.startsWith('S//')) return 3;
  if (s.startsWith('CONFIDENTIAL') || s === 'C' || s.startsWith('C//')) return 2;
  if (s.startsWith('CUI')) return 1;
  return 0;
};

async function main() {
  const base = env('SEXTANT_URL').replace(/\/+$/, '');
  const adminToken = env('E2E_TOKEN_ADMIN');
  const lowToken = env('E2E_TOKEN_LOW');
  const shots = process.env.SCREENSHOT_DIR || '';
  const timeoutMs = Number(env('E2E_TIMEOUT_S', '300')) * 1000;
  const executablePath = env('CHROMIUM', '/usr/bin/chromium');
  const question = env('E2E_QUESTION', 'What is the capital of France?');
  const bbox = env('E2E_BBOX', '-5,41,10,51').split(',').map(Number);
  const mapQuestion = env('E2E_MAP_QUESTION', 'What is the capital of France?');
  const secretText = env('E2E_SECRET_TEXT', '');
  const lowQuestion = env('E2E_LOW_QUESTION', '');
  const template = env('E2E_REPORT_TEMPLATE', 'bluf-memo');
  const reportParams = JSON.parse(env('E2E_REPORT_PARAMS', JSON.stringify({ question: 'What is the capital of France?' })));
  const exportsWanted = env('E2E_EXPORTS', 'md,html,pdf,docx').split(',').filter(Boolean);
  const act = process.env.E2E_ACT === '1';
  const skip = new Set(env('E2E_SKIP', '').split(',').filter(Boolean));
  check(fs.existsSync(executablePath), `${executablePath} is missing: run scripts/setup-browser.sh`);
  check(bbox.length === 4 && bbox.every(Number.isFinite), `E2E_BBOX must be "minlon,minlat,maxlon,maxlat"`);
  if (shots) fs.mkdirSync(shots, { recursive: true });
  const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

  const summary = { ok: false, views: {}, axe: {}, screenshots: [] };
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-app-e2e-'));
  const downloads = fs.mkdtempSync(path.join(os.tmpdir(), 'sextant-app-dl-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    downloadsPath: downloads,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(20000);
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console error: ${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => {
      const why = req.failure()?.errorText ?? '';
      // A request cancelled by leaving a view (or a download handed to the browser) is no fault.
      if (/ERR_ABORTED|NS_BINDING_ABORTED/.test(why)) return;
      problems.push(`request failed: ${req.url()} (${why})`);
    });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
      });
    });

    const shot = async (name) => {
      if (!shots) return;
      const file = path.join(shots, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      summary.screenshots.push(file);
    };
    const axe = async (name) => {
      const has = await page.evaluate(() => typeof window.axe !== 'undefined');
      if (!has) await page.evaluate(axeSource);
      const result = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
      });
      const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      summary.axe[name] = { violations: result.length, serious: bad.length, minor: result.filter((v) => !bad.includes(v)).map((v) => v.id) };
      check(bad.length === 0, `axe found serious/critical violations in ${name}:\n  ${bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`).join('\n  ')}`);
    };
    const go = async (route) => {
      await page.evaluate((r) => {
        location.hash = '#/' + r;
      }, route);
      await page.waitForSelector(`[data-testid="view-${route}"]`);
    };
    const banner = async () => ({
      top: squash(await page.textContent('[data-testid="banner-top"]')),
      bottom: squash(await page.textContent('[data-testid="banner-bottom"]')),
    });
    // The banner must be at least the highest marking label on screen.
    const checkBanner = async (where) => {
      const b = await banner();
      check(b.top && b.top === b.bottom, `${where}: top and bottom banners differ ("${b.top}" / "${b.bottom}")`);
      const marks = await page.$$eval('[data-marking]', (els) => els.map((e) => e.getAttribute('data-marking')));
      const max = Math.max(0, ...marks.map(LEVEL));
      check(LEVEL(b.top) === max, `${where}: the banner says "${b.top}" but the highest marking shown is level ${max} (${[...new Set(marks)].join(', ')})`);
      return b.top;
    };
    const signIn = async (token) => {
      let resp = await page.goto(`${base}/#/chat`, { waitUntil: 'load' });
      // Already at that URL (a second sign-in): only the hash changed, so load it afresh.
      if (!resp) resp = await page.reload({ waitUntil: 'load' });
      check(resp && resp.status() === 200, `GET / answered ${resp && resp.status()}`);
      const csp = resp.headers()['content-security-policy'] || '';
      check(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), `/ lacks a strict Content-Security-Policy: "${csp}"`);
      await page.waitForSelector('[data-testid="signin"], [data-testid="whoami"]');
      if (await page.$('[data-testid="whoami"]')) await page.click('[data-testid="signout"]');
      await page.waitForSelector('[data-testid="signin"]');
      await page.fill('[data-testid="token"]', token);
      await page.click('[data-testid="signin-submit"]');
      await page.waitForSelector('[data-testid="whoami"]');
      return {
        name: squash(await page.textContent('[data-testid="me-name"]')),
        clearance: squash(await page.textContent('[data-testid="me-clearance"]')),
      };
    };
    const waitLong = (fn, arg) => page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 500 });

    // ---- the admin ------------------------------------------------------------------------
    const admin = await signIn(adminToken);
    summary.admin = admin;
    check(await page.$('[data-testid="nav-admin"]'), 'the admin sees no Admin link');
    await axe('signed-in chat');
    await shot('chat-empty');

    if (!skip.has('chat')) {
      log('chat: asking', question);
      await page.fill('[data-testid="chat-input"]', question);
      const t0 = Date.now();
      await page.click('[data-testid="chat-send"]');
      await waitLong(() => {
        const last = [...document.querySelectorAll('[data-testid="msg-assistant"]')].pop();
        return last && (last.querySelector('[data-testid="answer"]') || last.querySelector('[data-testid="error"]'));
      });
      const last = page.locator('[data-testid="msg-assistant"]').last();
      const err = await last.locator('[data-testid="error"]').count();
      if (err) fail(`the chat answer failed: ${squash(await last.locator('[data-testid="error"]').textContent())}`);
      const answerText = squash(await last.locator('[data-testid="answer-text"]').textContent());
      const abstained = (await last.locator('[data-testid="answer"]').getAttribute('data-abstained')) === 'true';
      const cites = await last.locator('.citations li').count();
      summary.views.chat = { answer_chars: answerText.length, abstained, citations: cites, ms: Date.now() - t0 };
      check(answerText.length > 0, 'the chat answer is empty');
      check(abstained || cites > 0, `the answer "${answerText}" cites nothing and did not abstain`);
      if (cites > 0) {
        const quote = squash(await last.locator('.citations li .cite-quote').first().textContent());
        const inline = last.locator('[data-testid="answer-text"] [data-testid="cite"]');
        if (await inline.count()) await inline.first().click();
        else await last.locator('[data-testid="citation-open"]').first().click();
        await page.waitForSelector('[data-testid="source-panel"]');
        await page.waitForSelector('[data-testid="source-highlight"], [data-testid="source-quote"]', { timeout: 20000 });
        const hl = await page.$('[data-testid="source-highlight"]');
        check(hl, 'the source panel did not highlight the cited span');
        const marked = squash(await hl.textContent());
        // The first cited passage need not be the first listed when [n] numbers are out of order;
        // compare against every listed quote.
        const quotes = (await last.locator('.citations li .cite-quote').allTextContents()).map(squash);
        check(quotes.some((q) => marked.includes(q.slice(0, 40)) || q.includes(marked.slice(0, 40))), `the highlighted span "${marked.slice(0, 120)}" is none of the quotes (${quotes.map((q) => q.slice(0, 40)).join(' | ')})`);
        summary.views.chat.highlight_chars = marked.length;
        summary.views.chat.first_quote = quote.slice(0, 60);
        summary.views.chat.marking = await checkBanner('chat');
        await axe('chat with source panel');
        await shot('chat-source');
        await page.click('[data-testid="source-close"]');
      }
      // Copy answer with citations.
      await last.locator('[data-testid="copy-answer"]').click();
      const copied = await page.evaluate(() => window.__sextantCopied || '');
      check(squash(copied).includes(answerText.slice(0, 30)), 'copying the answer did not copy its text');
      // The conversation was kept on the server: rename it, open it afresh, find the answer.
      await page.waitForSelector('[data-testid="conv-item"]');
      const convs = await page.locator('[data-testid="conv-item"]').count();
      summary.views.chat.conversations = convs;
      const current = page.locator('[data-testid="conv-item"].current');
      check((await current.count()) === 1, 'the question started no conversation (none is current)');
      const convId = await current.getAttribute('data-id');
      const title = `E2E conversation ${Date.now() % 100000}`;
      await current.locator('[data-testid="conv-rename"]').click();
      await page.fill('[data-testid="conv-title-input"]', title);
      await page.click('[data-testid="conv-rename-save"]');
      await page.waitForFunction(([id, t]) => document.querySelector(`[data-testid="conv-item"][data-id="${id}"]`)?.textContent.includes(t), [convId, title]);
      await page.click('[data-testid="conv-new"]');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="msg-assistant"]').length === 0);
      await page.click(`[data-testid="conv-item"][data-id="${convId}"] [data-testid="conv-open"]`);
      await page.waitForSelector('[data-testid="msg-assistant"] [data-testid="answer-text"]');
      const reopened = squash(await page.locator('[data-testid="msg-assistant"] [data-testid="answer-text"]').last().textContent());
      check(reopened === answerText, `the reopened conversation shows "${reopened}" for the answer "${answerText}"`);
      summary.views.chat.renamed = title;
    }

    if (!skip.has('compare')) {
      const models = await page.evaluate(async (t) => {
        const r = await fetch('/v1/models', { headers: { Authorization: 'Bearer ' + t } });
        return (await r.json()).data.map((m) => m.id);
      }, adminToken);
      log('compare:', models.join(', '));
      await page.click('[data-testid="tab-compare"]');
      await page.fill('[data-testid="compare-question"]', question);
      await page.selectOption('[data-testid="compare-a"]', models[0]);
      await page.selectOption('[data-testid="compare-b"]', models[1] ?? models[0]);
      await page.click('[data-testid="compare-run"]');
      await waitLong(() => document.querySelector('[data-testid="compare-result"]') || document.querySelector('[data-testid="compare"] [data-testid="error"]'));
      const e = await page.$('[data-testid="compare"] > [data-testid="error"]');
      if (e) fail(`compare failed: ${squash(await e.textContent())}`);
      const cols = await page.$$eval('[data-testid="compare-col"]', (els) =>
        els.map((c) => ({
          model: c.getAttribute('data-model'),
          latency: c.querySelector('[data-testid="compare-latency"]')?.textContent ?? '',
          tps: c.querySelector('[data-testid="compare-tps"]')?.textContent ?? '',
          supported: c.querySelector('[data-testid="compare-supported"]')?.textContent ?? '',
          answer: c.querySelector('[data-testid="answer-text"]')?.textContent ?? c.querySelector('[data-testid="error"]')?.textContent ?? '',
        })),
      );
      const distinct = new Set([models[0], models[1] ?? models[0]]).size;
      check(cols.length === distinct, `compare shows ${cols.length} columns for ${distinct} models`);
      for (const c of cols) check(/s$/.test(squash(c.latency)) && squash(c.answer).length > 0, `compare column ${c.model} lacks latency or an answer: ${JSON.stringify(c)}`);
      summary.views.compare = cols.map((c) => ({ model: c.model, latency: squash(c.latency), tps: squash(c.tps), supported: squash(c.supported) }));
      await checkBanner('compare');
      await axe('compare');
      await shot('compare');
      await page.click('[data-testid="tab-chat"]');
    }

    const uploadName = `e2e-marked-${Date.now()}.txt`;
    const uploadPhrase = `Operation Kestrel staging area ${Date.now() % 100000}`;
    if (!skip.has('documents')) {
      await go('documents');
      await page.waitForSelector('[data-testid="ingest-status"] dl');
      await axe('documents');
      await shot('documents');
      await page.setInputFiles('[data-testid="upload-files"]', [
        { name: uploadName, mimeType: 'text/plain', buffer: Buffer.from(`Kestrel note\n\n${uploadPhrase} lies east of the river.\n`) },
        { name: 'e2e-broken.pdf', mimeType: 'application/pdf', buffer: Buffer.from('not a pdf at all') },
      ]);
      await page.fill('[data-testid="upload-marking"]', 'SECRET');
      await page.click('[data-testid="upload-submit"]');
      await waitLong(() => {
        const r = [...document.querySelectorAll('[data-testid="upload-result"]')];
        return r.length === 2 && r.every((x) => ['done', 'failed'].includes(x.getAttribute('data-state')));
      });
      const results = await page.$$eval('[data-testid="upload-result"]', (els) => els.map((e) => ({ name: e.getAttribute('data-name'), state: e.getAttribute('data-state'), text: e.textContent })));
      const mine = results.find((r) => r.name === uploadName);
      check(mine && mine.state === 'done', `the upload of ${uploadName} did not succeed: ${JSON.stringify(results)}`);
      const broken = results.find((r) => r.name === 'e2e-broken.pdf');
      check(broken && broken.state === 'failed', `a broken PDF was not reported as failed: ${JSON.stringify(results)}`);
      await page.fill('[data-testid="doc-search"]', 'e2e-marked');
      await page.click('[data-testid="doc-search-submit"]');
      await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid="doc-row"]')].some((r) => r.textContent.includes(n)), uploadName);
      const row = page.locator('[data-testid="doc-row"]', { hasText: uploadName });
      const mark = squash(await row.locator('[data-testid="doc-row-mark"]').textContent());
      check(mark.startsWith('SECRET'), `the uploaded document is listed as "${mark}", not SECRET`);
      await row.locator('[data-testid="doc-view"]').click();
      await page.waitForSelector('[data-testid="doc-text"]');
      check(squash(await page.textContent('[data-testid="doc-text"]')).includes(uploadPhrase), 'the document viewer does not show the uploaded text');
      const b = await checkBanner('documents');
      check(b.startsWith('SECRET'), `with a SECRET document shown the banner says "${b}"`);
      summary.views.documents = { uploaded: uploadName, marking: mark, banner: b, broken_reported: true };
      await shot('documents-uploaded');
    }

    if (!skip.has('reports')) {
      await go('reports');
      await page.waitForSelector('[data-testid="report-template"] option', { state: 'attached' });
      await page.selectOption('[data-testid="report-template"]', template);
      for (const [k, v] of Object.entries(reportParams)) await page.fill(`[data-testid="param-${k}"]`, String(v));
      await axe('reports');
      log('reports: generating', template);
      const t0 = Date.now();
      await page.click('[data-testid="report-generate"]');
      await waitLong(() => document.querySelector('[data-testid="report"]') || document.querySelector('[data-testid="new-report"] [data-testid="error"]'));
      const e = await page.$('[data-testid="new-report"] [data-testid="error"]');
      if (e) fail(`report generation failed: ${squash(await e.textContent())}`);
      const genMs = Date.now() - t0;
      const sections = await page.locator('[data-testid="report-section"]').count();
      check(sections >= 1, 'the report has no section');
      const portions = await page.locator('[data-testid="report"] [data-testid="portion"]').count();
      const marked = await page.locator('[data-testid="report"] [data-testid="portion"] [data-testid="portion-mark"]').count();
      check(portions >= 1 && marked === portions, `${marked} of ${portions} portions carry a portion mark`);
      const v1 = Number(await page.getAttribute('[data-testid="report"]', 'data-version'));
      await shot('report');
      // Edit section 1: the author's own text under the author's mark.
      const note = `Analyst note ${Date.now() % 100000}: reviewed for the e2e test.`;
      await page.locator('[data-testid="section-edit-toggle"]').first().click();
      await page.click('[data-testid="edit-how-text"]');
      await page.fill('[data-testid="edit-text"]', note);
      await page.fill('[data-testid="edit-marking"]', '(U)');
      await page.click('[data-testid="edit-submit"]');
      await waitLong((v) => Number(document.querySelector('[data-testid="report"]')?.getAttribute('data-version')) > v || document.querySelector('[data-testid="section-edit"] [data-testid="error"]'), v1);
      const editErr = await page.$('[data-testid="section-edit"] [data-testid="error"]');
      if (editErr) fail(`editing section 1 failed: ${squash(await editErr.textContent())}`);
      const first = squash(await page.locator('[data-testid="report-section"]').first().textContent());
      check(first.includes(note), `section 1 does not show the author's text after the edit: "${first.slice(0, 200)}"`);
      const v2 = Number(await page.getAttribute('[data-testid="report"]', 'data-version'));
      // Refresh.
      await page.click('[data-testid="report-refresh"]');
      await waitLong(() => /Refreshed/.test(document.querySelector('[data-testid="report-status"]')?.textContent ?? '') || document.querySelector('[data-testid="report"] > [data-testid="error"]'));
      const refreshErr = await page.$('[data-testid="report"] > [data-testid="error"]');
      if (refreshErr) fail(`refresh failed: ${squash(await refreshErr.textContent())}`);
      const refreshNote = squash(await page.textContent('[data-testid="report-status"]'));
      const diffShown = (await page.locator('[data-testid="report-diff"]').count()) > 0;
      // Version history: the first version is still there.
      await page.selectOption('[data-testid="report-version"]', String(v1));
      await page.waitForFunction((v) => document.querySelector('[data-testid="report"]')?.getAttribute('data-version') === String(v), v1);
      check(!squash(await page.locator('[data-testid="report-section"]').first().textContent()).includes(note), 'version 1 shows the later edit');
      await page.click('[data-testid="report-diff-prev"]').catch(() => {});
      await page.selectOption('[data-testid="report-version"]', String(v2));
      await page.waitForFunction((v) => document.querySelector('[data-testid="report"]')?.getAttribute('data-version') === String(v), v2);
      await page.click('[data-testid="report-diff-prev"]');
      await page.waitForSelector('[data-testid="report-diff"]');
      // Exports, downloaded through blob URLs.
      const exported = {};
      for (const f of exportsWanted) {
        const [dl] = await Promise.all([page.waitForEvent('download', { timeout: timeoutMs }), page.click(`[data-testid="export-${f}"]`)]);
        const file = await dl.path();
        const size = file ? fs.statSync(file).size : 0;
        check(dl.suggestedFilename().endsWith('.' + f) && size > 0, `export ${f} gave ${dl.suggestedFilename()} (${size} bytes)`);
        if (f === 'md') check(fs.readFileSync(file, 'utf8').includes(note), 'the Markdown export lacks the edited text');
        exported[f] = size;
      }
      const rb = await checkBanner('reports');
      await axe('report');
      await shot('report-edited');
      summary.views.reports = { template, sections, portions, generate_ms: genMs, versions: [v1, v2], refresh: refreshNote, refresh_diff: diffShown, exported, banner: rb };
    }

    if (!skip.has('calls')) {
      await go('calls');
      await page.waitForSelector('[data-testid="call-list"]', { state: 'attached' });
      await axe('calls');
      await shot('calls');
      summary.views.calls = { act: act };
      if (act) {
        const request = env('E2E_ACT_REQUEST');
        for (const what of ['confirm', 'deny']) {
          await page.fill('[data-testid="act-request"]', request);
          await page.click('[data-testid="act-submit"]');
          await waitLong(() => document.querySelector('[data-testid="act-result"]') || document.querySelector('.calls-layout [data-testid="error"]'));
          const e = await page.$('.calls-layout [data-testid="error"]');
          if (e) fail(`act failed: ${squash(await e.textContent())}`);
          const card = page.locator('[data-testid="act-result"] [data-testid="confirm-card"]').first();
          check((await card.count()) === 1, `the request made no pending call to ${what}`);
          await page.locator(`[data-testid="act-result"] [data-testid="call-${what}"]`).first().click();
          const want = what === 'confirm' ? ['executed', 'failed'] : ['denied'];
          await waitLong((w) => w.includes(document.querySelector('[data-testid="act-result"] [data-testid="call"]')?.getAttribute('data-state')), want);
          summary.views.calls[what] = await page.getAttribute('[data-testid="act-result"] [data-testid="call"]', 'data-state');
        }
        await checkBanner('calls');
        await shot('calls-acted');
      }
    }

    if (!skip.has('admin')) {
      await go('admin');
      await page.waitForSelector('[data-testid="user-row"]');
      await page.waitForSelector('[data-testid="audit-verify"]');
      const verified = await page.getAttribute('[data-testid="audit-verify"]', 'data-ok');
      check(verified === 'true', `the audit chain does not verify: ${squash(await page.textContent('[data-testid="audit-verify"]'))}`);
      await page.waitForSelector('[data-testid="system-status"] dl');
      await axe('admin');
      await shot('admin');
      const newUser = `e2e-user-${Date.now() % 100000}`;
      await page.fill('[data-testid="user-name"]', newUser);
      await page.selectOption('[data-testid="user-clearance"]', 'UNCLASSIFIED');
      await page.click('[data-testid="user-add"]');
      await page.waitForSelector('[data-testid="new-token-value"]');
      const tok = squash(await page.textContent('[data-testid="new-token-value"]'));
      check(tok.length >= 16, `the new user's token looks wrong: "${tok}"`);
      await page.waitForSelector(`[data-testid="user-row"][data-name="${newUser}"]`);
      // The new token works.
      const me = await page.evaluate(async (t) => (await fetch('/v1/me', { headers: { Authorization: 'Bearer ' + t } })).json(), tok);
      check(me.name === newUser, `the new token signs in as ${JSON.stringify(me)}`);
      // The audit filter finds the addition.
      await page.click('[data-testid="audit-reload"]');
      await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="audit-action"] option')].some((o) => o.value.startsWith('user.')));
      const userAction = await page.$$eval('[data-testid="audit-action"] option', (os) => os.map((o) => o.value).find((v) => v.startsWith('user.add')) ?? os.map((o) => o.value).find((v) => v.startsWith('user.')));
      await page.selectOption('[data-testid="audit-action"]', userAction);
      const rows = await page.$$eval('[data-testid="audit-row"]', (rs) => rs.map((r) => r.textContent));
      check(rows.length >= 1 && rows.every((r) => r.includes(userAction)), `filtering the audit by ${userAction} shows ${rows.length} rows`);
      // Remove the user again.
      await page.click(`[data-testid="user-row"][data-name="${newUser}"] [data-testid="user-remove"]`);
      await page.click(`[data-testid="user-row"][data-name="${newUser}"] [data-testid="user-remove-confirm"]`);
      await page.waitForSelector(`[data-testid="user-row"][data-name="${newUser}"]`, { state: 'detached' });
      summary.views.admin = { added: newUser, audit_verified: true, audit_rows_for_action: rows.length };
    }

    if (!skip.has('map')) summary.views.map = await mapFlow(page, { bbox, question: mapQuestion, timeoutMs, axe, shot, checkBanner });

    if (!skip.has('narrow')) {
      await page.setViewportSize({ width: 480, height: 800 });
      for (const r of ['chat', 'documents', 'reports']) {
        await go(r);
        await page.waitForTimeout(300);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        check(overflow <= 1, `#/${r} scrolls sideways at 480 px (${overflow} px too wide)`);
        await shot(`narrow-${r}`);
      }
      await page.setViewportSize({ width: 1280, height: 800 });
    }

    // ---- sign out -------------------------------------------------------------------------
    await page.click('[data-testid="signout"]');
    await page.waitForSelector('[data-testid="signin"]');
    check((await page.evaluate(() => sessionStorage.getItem('sextant.token'))) === null, 'signing out left the token in sessionStorage');

    // ---- the UNCLASSIFIED reader --------------------------------------------------------------
    if (!skip.has('low')) {
      const low = await signIn(lowToken);
      summary.low = { ...low, views: {} };
      check(!(await page.$('[data-testid="nav-admin"]')), 'a non-admin sees the Admin link');
      // Nothing above UNCLASSIFIED may reach this screen, ever: watched on every change.
      await page.evaluate((secret) => {
        window.__leaks = [];
        const scan = () => {
          const top = document.querySelector('[data-testid="banner-top"]')?.textContent ?? '';
          if (/SECRET|CONFIDENTIAL/.test(top)) window.__leaks.push(`banner: ${top}`);
          const body = document.body.innerText;
          if (secret && body.includes(secret)) window.__leaks.push(`secret text shown`);
          for (const m of document.querySelectorAll('[data-marking]')) {
            const v = m.getAttribute('data-marking') ?? '';
            if (/SECRET|CONFIDENTIAL|^\((S|TS|C)\b/.test(v)) window.__leaks.push(`marking ${v}`);
          }
        };
        new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
        scan();
      }, secretText);
      const lowLeaks = async (where) => {
        const leaks = await page.evaluate(() => window.__leaks);
        check(leaks.length === 0, `the UNCLASSIFIED reader saw classified material on ${where}: ${[...new Set(leaks)].join('; ')}`);
        const b = await banner();
        check(!/SECRET|CONFIDENTIAL/.test(b.top + b.bottom), `the UNCLASSIFIED reader's banner says "${b.top}"`);
        if (secretText) check(!(await page.evaluate(() => document.body.innerText)).includes(secretText), `the UNCLASSIFIED reader sees "${secretText}" on ${where}`);
        summary.low.views[where] = b.top;
      };
      if (lowQuestion) {
        await page.fill('[data-testid="chat-input"]', lowQuestion);
        await page.click('[data-testid="chat-send"]');
        await waitLong(() => {
          const last = [...document.querySelectorAll('[data-testid="msg-assistant"]')].pop();
          return last && (last.querySelector('[data-testid="answer"]') || last.querySelector('[data-testid="error"]'));
        });
        summary.low.answer = squash(await page.locator('[data-testid="msg-assistant"]').last().textContent()).slice(0, 160);
      }
      await lowLeaks('chat');
      await shot('low-chat');
      await go('documents');
      await page.waitForSelector('[data-testid="doc-total"]');
      await page.fill('[data-testid="doc-search"]', 'e2e-marked');
      await page.click('[data-testid="doc-search-submit"]');
      await page.waitForTimeout(1000);
      check((await page.locator('[data-testid="doc-row"]', { hasText: 'e2e-marked' }).count()) === 0, 'the UNCLASSIFIED reader sees the SECRET upload in the list');
      await page.fill('[data-testid="doc-search"]', '');
      await page.click('[data-testid="doc-search-submit"]');
      await page.waitForTimeout(1000);
      await lowLeaks('documents');
      await shot('low-documents');
      await go('reports');
      await page.waitForTimeout(1000);
      await lowLeaks('reports');
      await go('calls');
      await page.waitForTimeout(500);
      await lowLeaks('calls');
      // The admin route is not offered and shows nothing to a reader.
      await page.evaluate(() => (location.hash = '#/admin'));
      await page.waitForTimeout(500);
      check((await page.locator('[data-testid="users"]').count()) === 0, 'a reader sees the user list');
      await lowLeaks('admin route');
      await axe('low reader');
    }

    const csp = await page.evaluate(() => window.__csp);
    problems.push(...csp.map((v) => `CSP violation: ${v}`));
    const xss = await page.evaluate(() => window.__xss ?? null);
    check(xss === null, `window.__xss was set: server text ran as HTML`);
    check(problems.length === 0, `the page reported problems:\n  ${problems.join('\n  ')}`);
    summary.ok = true;
    summary.total_ms = Date.now() - started;
    console.log(JSON.stringify(summary));
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    fs.rmSync(downloads, { recursive: true, force: true });
  }
}

/** The map flow (formerly the /map page test), in the app: draw a box with the mouse, ask, check the answer,
 * citations and pins, that markup in a document is shown as text, then a polygon, Esc, Clear. */
async function mapFlow(page, { bbox, question, timeoutMs, axe, shot, checkBanner }) {
  const [minLon, minLat, maxLon, maxLat] = bbox;
  await page.evaluate(() => (location.hash = '#/map'));
  await page.waitForSelector('[data-testid="view-map"]');
  await page.waitForFunction(() => window.sextantMap && window.sextant, null, { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector('#map').dataset.basemap !== 'loading', null, { timeout: 15000 });
  const basemap = await page.getAttribute('#map', 'data-basemap');
  const countries = await page.locator('#map path.country').count();
  check(basemap === 'loaded' && countries > 0, `no basemap drawn (${countries} countries)`);
  check(await page.isDisabled('#ask'), 'Ask is enabled before an area is drawn');
  await axe('map');
  await page.evaluate(([s, w, n, e]) => window.sextantMap.fitBounds([[s, w], [n, e]], { padding: [60, 60], animate: false }), [minLat, minLon, maxLat, maxLon]);
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
  check(drawn && Array.isArray(drawn.bbox), `drawing a box left no bbox area (${JSON.stringify(drawn)})`);
  const slackLon = (maxLon - minLon) * 0.03 + 1e-4;
  const slackLat = (maxLat - minLat) * 0.03 + 1e-4;
  [minLon, minLat, maxLon, maxLat].forEach((v, i) => check(Math.abs(drawn.bbox[i] - v) <= (i % 2 === 0 ? slackLon : slackLat), `drawn box ${JSON.stringify(drawn.bbox)} is not ${bbox}`));

  // What lies in the area.
  await page.click('#list-area');
  await page.waitForFunction(() => document.querySelector('[data-testid="record-list"]') || document.querySelector('[data-testid="records"] [data-testid="error"]'), null, { timeout: 60000 });
  const recErr = await page.$('[data-testid="records"] [data-testid="error"]');
  if (recErr) fail(`listing the area failed: ${squash(await recErr.textContent())}`);
  const records = await page.locator('[data-testid="record"]').count();

  await page.fill('#question', question);
  check(await page.isEnabled('#ask'), 'Ask is disabled after drawing an area and typing a question');
  const t0 = Date.now();
  const askResponse = page.waitForResponse((r) => r.url().endsWith('/v1/geo/ask') && r.request().method() === 'POST', { timeout: timeoutMs });
  askResponse.catch(() => {});
  await page.click('#ask');
  await page.waitForFunction(() => ['done', 'error'].includes(document.querySelector('#answer-panel').dataset.state), null, { timeout: timeoutMs, polling: 250 });
  const askMs = Date.now() - t0;
  if ((await page.getAttribute('#answer-panel', 'data-state')) !== 'done') fail(`the map ask failed: ${squash(await page.textContent('#error'))}`);
  const server = await (await askResponse).json();
  const serverQuote = new Map((server.citations || []).map((c) => [Number(c.n), String(c.quote ?? '')]));
  const shown = await page.evaluate(() => ({
    answer: document.querySelector('#answer-text')?.textContent ?? '',
    citations: [...document.querySelectorAll('#citations li')].map((li) => ({
      n: Number(li.dataset.n),
      quote: li.querySelector('.cite-quote')?.textContent ?? '',
      text: li.textContent,
      hasPin: li.classList.contains('has-pin'),
    })),
    pinsAttr: Number(document.querySelector('#map').dataset.pins),
    pinPaths: document.querySelectorAll('#map .leaflet-interactive.pin').length,
    pins: window.sextant.pinCount(),
  }));
  check(squash(shown.answer).length > 0 && squash(shown.answer) === squash(server.answer), `the map shows "${squash(shown.answer)}" for "${squash(server.answer)}"`);
  check(shown.citations.length === serverQuote.size && shown.citations.length >= 1, `${shown.citations.length} citations listed, the server sent ${serverQuote.size}`);
  for (const c of shown.citations) check(squash(c.quote) === squash(serverQuote.get(c.n)), `citation [${c.n}] shows "${squash(c.quote)}"`);
  check(shown.pins >= 1, 'no pin on the map');
  check(shown.pinPaths === shown.pins && shown.pinsAttr === shown.pins, `pin counts disagree: ${shown.pinPaths} paths, data-pins ${shown.pinsAttr}, ${shown.pins} markers`);
  const b = await checkBanner('map');
  check(b === squash(server.marking) || LEVEL(b) >= LEVEL(server.marking), `the banner "${b}" is below the answer's marking "${server.marking}"`);
  const popupText = async () =>
    (
      await page.waitForFunction(
        () => {
          const all = document.querySelectorAll('.leaflet-popup');
          const content = all.length === 1 && all[0].querySelector('.leaflet-popup-content .pin-popup');
          return content ? content.textContent : false;
        },
        null,
        { timeout: 5000 },
      )
    ).jsonValue();
  let markupQuotes = 0;
  for (let i = 0; i < shown.pins; i++) {
    const n = await page.evaluate((i) => window.sextant.pinCitation(i), i);
    await page.evaluate((i) => window.sextant.openPin(i), i);
    const text = squash(await popupText());
    check(text.includes(squash(serverQuote.get(n))) && text.includes(`[${n}]`), `pin ${i}'s popup does not show citation [${n}]: "${text}"`);
    if (/<[a-z]/i.test(serverQuote.get(n))) markupQuotes++;
  }
  for (const c of shown.citations.filter((c) => c.hasPin)) {
    await page.evaluate(() => window.sextantMap.closePopup());
    await page.click(`#citations li[data-n="${c.n}"] .cite-quote`);
    const text = squash(await popupText());
    check(text.includes(squash(c.quote)), `clicking citation [${c.n}] opened no popup with its quote`);
  }
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
  check(clicked, 'no pin lies inside the map view');
  await page.waitForTimeout(400);
  await shot('map');
  // The cited passage opens beside the map.
  await page.click('#citations li [data-testid="citation-source"]');
  await page.waitForSelector('[data-testid="source-highlight"], [data-testid="source-quote"]');
  await page.click('[data-testid="source-close"]');
  const xss = await page.evaluate(() => ({
    flag: window.__xss ?? null,
    injected: document.querySelectorAll('#panel img, .leaflet-popup img, img[src="x"], #panel script').length,
  }));
  check(xss.flag === null && xss.injected === 0, `server text ran as HTML on the map: ${JSON.stringify(xss)}`);
  const anyMarkup = shown.citations.some((c) => /<[a-z]/i.test(c.text)) || /<[a-z]/i.test(shown.answer);
  // Polygon, Esc, Clear.
  await page.evaluate(() => window.sextantMap.closePopup());
  await page.waitForFunction(() => !document.querySelector('.leaflet-popup'), null, { timeout: 5000 });
  const at = (fx, fy) => ({ x: box.x + size.x * fx, y: box.y + size.y * fy });
  await page.click('#mode-polygon');
  for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3]]) await page.mouse.click(at(fx, fy).x, at(fx, fy).y);
  await page.keyboard.press('Escape');
  for (const [fx, fy] of [[0.3, 0.3], [0.7, 0.3], [0.7, 0.7]]) await page.mouse.click(at(fx, fy).x, at(fx, fy).y);
  await page.mouse.dblclick(at(0.35, 0.75).x, at(0.35, 0.75).y);
  const poly = JSON.parse((await page.getAttribute('#map', 'data-area')) || 'null');
  check(poly && poly.type === 'Polygon' && poly.coordinates[0].length === 5, `Polygon mode drew ${JSON.stringify(poly)}`);
  await page.click('#clear');
  check((await page.getAttribute('#map', 'data-area')) === '', 'Clear left an area');
  check((await page.getAttribute('#map', 'data-pins')) === '0', 'Clear left pins');
  return { pins: shown.pins, citations: shown.citations.length, records, marking: b, markup_quotes_literal: markupQuotes, markup_shown_as_text: anyMarkup, ask_ms: askMs, countries };
}

main().catch((err) => {
  if (err instanceof AssertionFailed) console.error(`app e2e FAILED: ${err.message}`);
  else console.error(`app e2e FAILED (error): ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
