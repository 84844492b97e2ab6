/**
 * The local page in a real browser: Debian's headless Chromium driven by playwright-core,
 * against the real stack on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { listenOnLoopback } from '../helpers/net.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // A name an attacker controls that resolves to this machine (DNS rebinding).
  '--host-resolver-rules=MAP rebind.attacker.test 127.0.0.1',
];

/** An attacker's page: on load it posts a photo to the local API, blind (`no-cors`). */
function attackerPage(target: string): string {
  return `<!doctype html><title>cute cats</title><script>
const form = new FormData();
form.append('image', new Blob([new Uint8Array([255, 216, 255, 224])], { type: 'image/jpeg' }), 'x.jpg');
fetch(${JSON.stringify(`${target}/api/similar`)}, { method: 'POST', mode: 'no-cors', body: form })
  .then(() => { document.title = 'sent'; }, () => { document.title = 'failed'; });
</script>`;
}

describe('local page in headless Chromium', () => {
  let stack: TestStack;
  let http: HttpServer;
  let base: string;
  let browser: Browser;
  let page: Page;
  const external: string[] = [];
  /** The Origin header of each upload the page made. */
  const uploadOrigins: Promise<string | undefined>[] = [];
  let attacker: Server | undefined;

  before(async () => {
    stack = await createTestStack({ catalogSize: 24 });
    http = createHttpServer({ service: stack.service, localPage: true });
    const { port } = await http.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('request', (req) => {
      if (!req.url().startsWith(base) && !req.url().startsWith('blob:') && !req.url().startsWith('data:')) {
        external.push(req.url());
      }
      if (req.method() === 'POST' && req.url() === `${base}/api/similar`) {
        uploadOrigins.push(req.allHeaders().then((h) => h.origin));
      }
    });
    await page.goto(base);
  });

  after(async () => {
    await browser?.close();
    if (attacker !== undefined) await new Promise((r) => attacker?.close(r));
    await http?.close();
    await stack?.close();
  });

  test('GIVEN untrained weights THEN the banner is visible and the status line names the catalog', async () => {
    await page.getByTestId('untrained-banner').waitFor({ state: 'visible' });
    assert.match(
      (await page.getByTestId('untrained-banner').textContent()) ?? '',
      /Untrained model: results are not meaningful/,
    );
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('24 items'));
  });

  test('GIVEN a photo chosen with the file input THEN 6 result cards and the collage appear', async () => {
    const photo = stack.items.find((i) => i.path.endsWith('.jpg'));
    assert.ok(photo !== undefined);
    await page.getByTestId('file-input').setInputFiles(photo.path);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="result-card"]').length === 6);
    const cards = page.getByTestId('result-card');
    assert.equal(await cards.count(), 6);
    const first = (await cards.first().textContent()) ?? '';
    assert.match(first, /[\d.]+% similar/);
    // Every thumbnail and the collage actually loaded.
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('#grid img, #collage-img')].every(
        (i) => i.complete && i.naturalWidth > 0,
      ),
    );
    assert.ok(await page.getByTestId('collage').isVisible());
    await page.screenshot({ path: join(TEST_TMP_DIR, 'page.png'), fullPage: true });
  });

  test('GIVEN an articleType filter THEN the results are re-queried and all match it', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#articleType option').length > 1);
    await page.getByTestId('filter-articleType').selectOption('Dresses');
    await page.waitForFunction(() => {
      const subs = [...document.querySelectorAll('[data-testid="result-card"] .sub')];
      return subs.length > 0 && subs.every((s) => s.textContent?.startsWith('Dresses'));
    });
    await page.getByTestId('filter-articleType').selectOption('');
  });

  test('GIVEN a pasted image THEN it is searched', async () => {
    const photo = stack.items.find((i) => i.path.endsWith('.png')) ?? stack.items[1];
    assert.ok(photo !== undefined);
    const b64 = (await readFile(photo.path)).toString('base64');
    await page.evaluate(async (data) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const file = new File([bytes], 'pasted.png', { type: 'image/png' });
      const dt = new DataTransfer();
      dt.items.add(file);
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
    }, b64);
    await page.waitForFunction(
      () =>
        document.getElementById('preview-name')?.textContent === 'pasted.png' &&
        !document.body.hasAttribute('data-busy') &&
        document.querySelectorAll('[data-testid="result-card"]').length === 6,
    );
  });

  test('GIVEN a text file THEN the friendly error appears and no results are shown', async () => {
    await page.getByTestId('file-input').setInputFiles({
      name: 'holiday.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('This is a text file pretending to be a photo.\n'),
    });
    const error = page.getByTestId('error');
    await error.waitFor({ state: 'visible' });
    assert.equal(await error.textContent(), USER_MESSAGES.UNSUPPORTED_IMAGE);
    assert.equal(await page.getByTestId('result-card').count(), 0);
    await page.screenshot({ path: join(TEST_TMP_DIR, 'page-error.png') });
  });

  test("THEN every upload carried the page's own Origin, which the server accepted", async () => {
    assert.ok(uploadOrigins.length >= 3, `uploads seen: ${uploadOrigins.length}`);
    for (const origin of await Promise.all(uploadOrigins)) assert.equal(origin, base);
  });

  test('GIVEN another site that posts to the local API THEN the browser gets 403 ORIGIN_FORBIDDEN', async () => {
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(attackerPage(base));
    });
    const attackerPort = await listenOnLoopback(attacker);
    // What reached the server (the browser hides an opaque request's headers from playwright).
    const seenOrigins: (string | undefined)[] = [];
    http.server.on('request', (req: IncomingMessage) => {
      if (req.method === 'POST') seenOrigins.push(req.headers.origin);
    });
    const tab = await browser.newPage();
    try {
      const refused = tab.waitForResponse((r) => r.url() === `${base}/api/similar`);
      await tab.goto(`http://localhost:${attackerPort}/`);
      const res = await refused;
      assert.deepEqual(seenOrigins, [`http://localhost:${attackerPort}`], 'what the server was sent');
      assert.equal(res.status(), 403);
      await tab.waitForFunction(() => document.title === 'sent');
    } finally {
      await tab.close();
    }
  });

  test('GIVEN a DNS-rebinding name for this machine THEN the page and its API answer 421', async () => {
    const { port } = new URL(base);
    const tab = await browser.newPage();
    try {
      const res = await tab.goto(`http://rebind.attacker.test:${port}/`);
      assert.ok(res !== null);
      assert.equal(res.status(), 421);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'HOST_MISDIRECTED');
      const status = await tab.goto(`http://rebind.attacker.test:${port}/api/status`);
      assert.equal(status?.status(), 421);
    } finally {
      await tab.close();
    }
  });

  test('THEN the page made no request off the server', () => {
    assert.deepEqual(external, []);
  });
});
