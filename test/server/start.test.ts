/**
 * `lookalike start` as a process: serves the page, API and /metrics on HOST/PORT at once, indexes
 * a configured (empty) catalog on first run in the background through the service, and shuts
 * down gracefully on SIGTERM, letting an in-flight answer finish.
 */
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A request to 127.0.0.1 with exactly these headers (Host included). */
function rawRequest(
  port: number,
  path: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('lookalike start', () => {
  const dir = join(TEST_TMP_DIR, 'start-e2e');
  let catalog: TestCatalog;
  let child: ChildProcessByStdio<null, Readable, Readable>;
  let stdout = '';
  let stderr = '';
  let base = '';
  let exited: Promise<number | null>;

  before(async () => {
    await rm(dir, { recursive: true, force: true });
    const modelsDir = await ensureUntrainedModels();
    catalog = await makeTestCatalog(join(dir, 'catalog'), { count: 12 });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !/^(LOOKALIKE_|DISCORD_|SLACK_|PORT$|HOST$|LOCAL_PAGE$|LOG_LEVEL$)/.test(k)) env[k] = v;
    }
    Object.assign(env, {
      LOOKALIKE_MODELS_DIR: modelsDir,
      LOOKALIKE_DATA_DIR: join(dir, 'data'),
      LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
      LOOKALIKE_LABELS: catalog.labelsPath,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      LOOKALIKE_PUBLIC_HOSTS: 'lookalike.test, photos.example.org:8443',
    });
    child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(ROOT, 'apps/cli/src/main.ts'), 'start'],
      {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    base = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /Local page: (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`start exited with ${code}: ${stderr}`)));
    });
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  test('GIVEN an empty configured catalog THEN it is indexed on first run and the page answers with 6 results', async () => {
    // Asked at once, while the first index runs: results, or "indexing for the first time"; never INDEX_EMPTY.
    const early = new FormData();
    const some = catalog.items[2];
    assert.ok(some !== undefined);
    early.append('image', new Blob([new Uint8Array(await readFile(join(catalog.imagesDir, some.file)))]), some.file);
    const earlyRes = await fetch(`${base}/api/similar`, { method: 'POST', body: early });
    const earlyBody = (await earlyRes.json()) as { results?: unknown[]; error?: { code: string; message: string } };
    if (earlyRes.status === 200) assert.ok((earlyBody.results ?? []).length > 0);
    else {
      assert.equal(earlyRes.status, 503, JSON.stringify(earlyBody));
      assert.equal(earlyBody.error?.code, 'INDEX_BUILDING');
      assert.doesNotMatch(earlyBody.error?.message ?? '', /run \/reindex/);
    }
    for (;;) {
      const health = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; catalogSize: number };
      const status = (await (await fetch(`${base}/api/status`)).json()) as { reindexing: boolean };
      // stderr arrives through a pipe, independently of HTTP: wait for the summary line too.
      if (health.catalogSize === 12 && !status.reindexing && /Reindex done/.test(stderr)) break;
      assert.equal(child.exitCode, null, `start exited early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.match(stderr, /is empty: indexing/);
    // JSON log lines on stderr (not a TTY), in the order they were written.
    const logs = stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { component?: string; msg?: string });
    const listening = logs.findIndex((l) => l.component === 'http' && l.msg === 'listening');
    const started = logs.findIndex((l) => l.component === 'service' && l.msg === 'reindex started');
    assert.ok(listening >= 0, 'the server logged that it listens');
    assert.ok(started > listening, 'the first index starts through the service, after the server is up');
    assert.match(stderr, /Reindex done in [\d.]+ s: 12 added/, stderr);
    assert.equal((await fetch(`${base}/`)).status, 200);
    const form = new FormData();
    const first = catalog.items[0];
    assert.ok(first !== undefined);
    form.append('image', new Blob([new Uint8Array(await readFile(join(catalog.imagesDir, first.file)))]), first.file);
    const res = await fetch(`${base}/api/similar`, { method: 'POST', body: form });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { results: unknown[] }).results.length, 6);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^lookalike_requests_total\{surface="page",outcome="ok"\} 1$/m);
    assert.match(metrics, /^lookalike_catalog_items 12$/m);
  });

  test('GIVEN the default page limit and LOOKALIKE_PUBLIC_HOSTS THEN a seventh upload is answered, foreign hosts get 421 and other origins 403', async () => {
    const photo = Buffer.from(await readFile(join(catalog.imagesDir, catalog.items[3]?.file ?? '')));
    const { port } = new URL(base);
    const post = (headers: Record<string, string>) =>
      rawRequest(Number(port), '/api/similar', 'POST', { 'content-type': 'image/jpeg', ...headers }, photo);
    // Two uploads so far in this minute (first test); the chat users' limit of 5 does not apply here.
    let answered = 2;
    for (const host of [`127.0.0.1:${port}`, 'lookalike.test', `127.0.0.1:${port}`, 'lookalike.test', 'localhost']) {
      const res = await post({ host, origin: `http://${host}` });
      assert.equal(res.status, 200, `upload ${answered + 1} via ${host}: ${res.body}`);
      answered++;
    }
    assert.equal(answered, 7);
    // lookalike.test is served, but an upload to it from 127.0.0.1's page is from another origin.
    const cross = await post({ host: 'lookalike.test', origin: base });
    assert.equal(cross.status, 403);
    assert.match(cross.body, /"ORIGIN_FORBIDDEN"/);
    for (const host of ['photos.example.org', `localhost:${port}`]) {
      assert.equal((await rawRequest(Number(port), '/api/status', 'GET', { host })).status, 200, host);
    }
    const foreign = await rawRequest(Number(port), '/api/status', 'GET', { host: 'rebind.attacker.example' });
    assert.equal(foreign.status, 421);
    assert.match(foreign.body, /"HOST_MISDIRECTED"/);
    const health = await rawRequest(Number(port), '/healthz', 'GET', { host: 'rebind.attacker.example' });
    assert.equal(health.status, 200, '/healthz answers any Host');
  });

  test('GIVEN SIGTERM during a query THEN the answer still arrives and the process exits 0', async () => {
    const form = new FormData();
    const item = catalog.items[1];
    assert.ok(item !== undefined);
    form.append('image', new Blob([new Uint8Array(await readFile(join(catalog.imagesDir, item.file)))]), item.file);
    let finished = false;
    const inFlight = fetch(`${base}/api/similar`, { method: 'POST', body: form }).finally(() => {
      finished = true;
    });
    // Signal once the service holds the query (or it already answered, on a fast machine).
    while (!finished) {
      const status = (await (await fetch(`${base}/api/status`)).json()) as { inFlight: number; queueDepth: number };
      if (status.inFlight + status.queueDepth > 0) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200, stderr);
    assert.equal(((await res.json()) as { results: unknown[] }).results.length, 6);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM received/);
    await assert.rejects(fetch(`${base}/healthz`), 'no longer listening');
  });
});
