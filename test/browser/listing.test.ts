// The directory listing in a real browser (Debian's chromium, driven over
// the DevTools protocol by puppeteer-core; nothing is downloaded): it
// renders as a table of names, sizes and times with working links, and a
// file named like markup is shown as text, never run.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser } from 'puppeteer-core';
import { scratchDir } from '../helpers/fixtures';
import { startServer, type TestServer } from '../helpers/server';

const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium';
const EVIL = '<img src=x onerror=alert(1)>.txt';

describe('directory listing in a headless browser', function () {
  this.timeout(60_000);
  if (!fs.existsSync(CHROMIUM)) {
    it.skip(`skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set SLUICE_CHROMIUM)`, () => {});
    return;
  }
  let server: TestServer;
  let browser: Browser;
  let shot = '';

  before(async () => {
    const root = path.join(scratchDir(), 'site');
    fs.mkdirSync(path.join(root, 'files', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'files', EVIL), 'evil\n');
    fs.writeFileSync(path.join(root, 'files', 'report.pdf'), Buffer.alloc(3 * 1024 * 1024));
    fs.writeFileSync(path.join(root, 'files', 'notes.txt'), 'notes\n');
    fs.writeFileSync(path.join(root, 'files', '.hidden'), 'hidden\n');
    server = await startServer(root, { listing: true });
    // puppeteer-core is ESM-first; its CommonJS entry is enough here.
    const { launch } = await import('puppeteer-core');
    browser = await launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    shot = path.join(scratchDir(), 'listing.png');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('should render the names, sizes, times and breadcrumbs as a table, with the escaping name as text', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const res = await page.goto(`${server.url}/files/`, { waitUntil: 'load' });
    assert.equal(res?.status(), 200);
    // Run in the page (a string: the test build has no DOM types).
    const seen = (await page.evaluate(`({
      title: document.title,
      crumbs: [...document.querySelectorAll('h1 nav a')].map((a) => a.textContent),
      rows: [...document.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent || '')),
      images: document.querySelectorAll('img').length,
      tableWidth: document.querySelector('table').getBoundingClientRect().width,
      bold: getComputedStyle(document.querySelector('h1')).fontWeight,
    })`)) as { title: string; crumbs: string[]; rows: string[][]; images: number; tableWidth: number; bold: string };
    await page.screenshot({ path: shot });
    assert.equal(seen.title, 'Index of /files/');
    assert.deepEqual(seen.crumbs, ['/', 'files/']);
    const names = seen.rows.map((r) => r[0]);
    assert.deepEqual(names, ['..', 'sub/', EVIL, 'notes.txt', 'report.pdf']);
    assert.equal(seen.rows.find((r) => r[0] === 'report.pdf')?.[1], '3.0 MiB');
    assert.match(seen.rows.find((r) => r[0] === 'notes.txt')?.[2] ?? '', /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    assert.equal(seen.images, 0, 'the name made no element');
    assert.ok(seen.tableWidth > 300, `table rendered ${seen.tableWidth}px wide`);
    assert.equal(seen.bold, '600');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(dialogs, [], 'no script ran');
    assert.deepEqual(errors, []);
    assert.ok(fs.statSync(shot).size > 0);
    await page.close();
  });

  it('should follow a listed name’s link to the file itself', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/files/`, { waitUntil: 'load' });
    const href = (await page.evaluate(`[...document.querySelectorAll('a')].find((a) => a.textContent === ${JSON.stringify(EVIL)}).href`)) as string;
    const res = await page.goto(href);
    assert.equal(res?.status(), 200);
    assert.equal(await res?.text(), 'evil\n');
    await page.close();
  });
});
