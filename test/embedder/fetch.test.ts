/**
 * `models fetch` against a loopback HTTP server: resume after a cut connection, retries on 503,
 * md5 checks, source `file` for a non-official file, fast failure when nothing listens.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isLookalikeError } from '@lookalike/core';
import {
  createUntrainedWeights,
  downloadWithResume,
  fetchWeights,
  hashFile,
  readManifest,
  writeKerasWeights,
} from '@lookalike/embedder';
import { TEST_TMP_DIR } from '../helpers/models.js';
import { listenOnLoopback } from '../helpers/net.js';
import { runCli } from '../helpers/process.js';

const work = join(TEST_TMP_DIR, `fetch-test-${process.pid}`);

/** What the server does with one request. */
type Behaviour = 'ok' | 'cut' | '503' | '404' | 'ignore-range';

interface Recorded {
  path: string;
  range: string | undefined;
}

/** A loopback file server whose next responses follow a script (then plain 'ok'). */
class ScriptedServer {
  readonly requests: Recorded[] = [];
  script: Behaviour[] = [];
  body: Buffer = Buffer.alloc(0);
  #server: Server;
  port = 0;

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  async listen(): Promise<void> {
    this.port = await listenOnLoopback(this.#server);
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.port}/${name}`;
  }

  reset(body: Buffer, script: Behaviour[]): void {
    this.body = body;
    this.script = [...script];
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const range = req.headers.range;
    this.requests.push({ path: req.url ?? '', range });
    const behaviour = this.script.shift() ?? 'ok';
    const total = this.body.length;
    if (behaviour === '503') {
      res.writeHead(503, { 'retry-after': '0', 'content-type': 'text/plain' }).end('busy');
      return;
    }
    if (behaviour === '404') {
      res.writeHead(404).end('no');
      return;
    }
    const m = behaviour === 'ignore-range' ? null : /^bytes=(\d+)-$/.exec(range ?? '');
    const start = m === null ? 0 : Number(m[1]);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'content-length': total - start,
      'accept-ranges': 'bytes',
    };
    if (m !== null) headers['content-range'] = `bytes ${start}-${total - 1}/${total}`;
    res.writeHead(m === null ? 200 : 206, headers);
    if (behaviour === 'cut') {
      // Send about 40 % of the rest, then drop the connection.
      const cut = start + Math.floor((total - start) * 0.4);
      res.write(this.body.subarray(start, cut), () => {
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(this.body.subarray(start));
  }
}

const server = new ScriptedServer();
let h5Bytes: Buffer;
let h5Md5: string;

before(async () => {
  await mkdir(work, { recursive: true });
  await server.listen();
  const h5 = join(work, 'served.h5');
  await writeKerasWeights(h5, createUntrainedWeights(777));
  h5Bytes = await readFile(h5);
  h5Md5 = await hashFile(h5, 'md5');
});

after(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listenOnLoopback(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('downloadWithResume', () => {
  const payload = randomBytes(3 * 1024 * 1024 + 123);

  it('GIVEN the server cuts the connection midway THEN the next attempt resumes with a Range request', async () => {
    server.reset(payload, ['cut']);
    const dest = join(work, 'resume.bin');
    const result = await downloadWithResume({ url: server.url('resume.bin'), dest, retryDelayMs: 10 });
    assert.ok((await readFile(dest)).equals(payload));
    assert.equal(result.resumed, true);
    assert.equal(result.attempts, 2);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0]?.range, undefined);
    const m = /^bytes=(\d+)-$/.exec(server.requests[1]?.range ?? '');
    assert.ok(m, `second request has a Range header: ${server.requests[1]?.range}`);
    assert.ok(Number(m[1]) > 0 && Number(m[1]) < payload.length);
    assert.equal(existsSync(`${dest}.part`), false);
  });

  it('GIVEN 503 twice THEN it retries and succeeds', async () => {
    server.reset(payload, ['503', '503']);
    const dest = join(work, 'retry.bin');
    const result = await downloadWithResume({ url: server.url('retry.bin'), dest, retryDelayMs: 10 });
    assert.equal(result.attempts, 3);
    assert.equal(server.requests.length, 3);
    assert.ok((await readFile(dest)).equals(payload));
  });

  it('GIVEN a partial file from an earlier run and a server that ignores Range THEN the file is still exact', async () => {
    const dest = join(work, 'stale.bin');
    await writeFile(`${dest}.part`, payload.subarray(0, 1000));
    server.reset(payload, ['ignore-range']);
    const result = await downloadWithResume({ url: server.url('stale.bin'), dest, retryDelayMs: 10 });
    assert.equal(server.requests[0]?.range, 'bytes=1000-');
    assert.equal(result.resumed, false);
    assert.ok((await readFile(dest)).equals(payload));
  });

  it('GIVEN a 404 THEN DOWNLOAD_FAILED without retrying', async () => {
    server.reset(payload, ['404']);
    await assert.rejects(
      downloadWithResume({ url: server.url('missing.bin'), dest: join(work, 'missing.bin'), retryDelayMs: 10 }),
      (err: unknown) => isLookalikeError(err) && err.code === 'DOWNLOAD_FAILED' && err.details.status === 404,
    );
    assert.equal(server.requests.length, 1);
  });

  it('GIVEN nothing listens THEN DOWNLOAD_FAILED after at most one retry', async () => {
    const port = await closedPort();
    await assert.rejects(
      downloadWithResume({ url: `http://127.0.0.1:${port}/x.h5`, dest: join(work, 'refused.bin'), retryDelayMs: 10 }),
      (err: unknown) =>
        isLookalikeError(err) &&
        err.code === 'DOWNLOAD_FAILED' &&
        err.details.code === 'ECONNREFUSED' &&
        (err.details.attempts as number) <= 2,
    );
  });
});

describe('fetchWeights', () => {
  it('GIVEN a required md5 that does not match THEN CHECKSUM_MISMATCH and no model files', async () => {
    server.reset(h5Bytes, []);
    const modelsDir = join(work, 'models-md5');
    await assert.rejects(
      fetchWeights({
        modelsDir,
        url: server.url('weights.h5'),
        expectedMd5: '0123456789abcdef0123456789abcdef',
        retryDelayMs: 10,
      }),
      (err: unknown) => isLookalikeError(err) && err.code === 'CHECKSUM_MISMATCH' && err.details.actual === h5Md5,
    );
    assert.equal(existsSync(join(modelsDir, 'manifest.json')), false);
    assert.equal(existsSync(join(modelsDir, '.download')), false);
  });
});

describe('lookalike models fetch', () => {
  it('GIVEN a mirror that answers 503, then cuts the transfer THEN it retries, resumes, verifies and records source "file"', async () => {
    server.reset(h5Bytes, ['503', 'cut']);
    const modelsDir = join(work, 'models-cli');
    const r = await runCli(['--models', modelsDir, 'models', 'fetch', '--url', server.url('mirror/resnet50.h5')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requests.length, 3);
    assert.ok(server.requests[2]?.range?.startsWith('bytes='), 'third request resumes');
    assert.match(r.stderr, /not the official Keras file/);
    assert.match(r.stdout, /source: +file/);
    const m = await readManifest(modelsDir, { verify: true });
    assert.equal(m.source, 'file');
    assert.equal(m.sourceMd5, h5Md5);
    assert.equal(m.sourceName, 'resnet50.h5');
    assert.equal(existsSync(join(modelsDir, '.download')), false, 'the downloaded .h5 is not kept');
  });

  it('GIVEN nothing listens at the URL THEN it exits non-zero with DOWNLOAD_FAILED', async () => {
    const port = await closedPort();
    const modelsDir = join(work, 'models-offline');
    const r = await runCli(['--models', modelsDir, 'models', 'fetch', '--url', `http://127.0.0.1:${port}/w.h5`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DOWNLOAD_FAILED/);
    assert.equal(existsSync(join(modelsDir, 'manifest.json')), false);
  });
});
