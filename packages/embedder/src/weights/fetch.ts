/**
 * Downloading the Keras weights file: resumable (HTTP Range into a `.part` file), retried with
 * exponential backoff, md5-verified, then converted. Fails fast when the host can't be reached.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type Logger, LookalikeError, silentLogger } from '@lookalike/core';
import { Agent, fetch } from 'undici';
import { OFFICIAL_WEIGHTS_MD5, OFFICIAL_WEIGHTS_NAME, OFFICIAL_WEIGHTS_URL } from './layout.js';
import { hashFile } from './manifest.js';
import { type ConvertResult, type ConvertStep, convertWeightsFile } from './pipeline.js';

export interface DownloadProgress {
  received: number;
  /** Total bytes when the server says so. */
  total: number | undefined;
}

export interface DownloadOptions {
  url: string;
  /** Final path; data goes to `<dest>.part` until complete. */
  dest: string;
  /** TCP/TLS connect timeout (default 5 s). */
  connectTimeoutMs?: number;
  /** Abort a request when no headers/body bytes arrive for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Retries after the first attempt for transfer errors, 5xx, 408 and 429 (default 5). */
  retries?: number;
  /** Base backoff delay, doubled per retry, capped at 30 s (default 1 s). */
  retryDelayMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  attempts: number;
  /** True when at least one attempt continued a partial file with a Range request. */
  resumed: boolean;
}

/** Errors on which the host was never reached: retrying these would only delay the offline fallback. */
const UNREACHABLE_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
  ) {
    super(`HTTP ${status}`);
  }
}

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function describe(err: unknown): string {
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const causeMsg =
    err instanceof Error && err.cause instanceof Error && err.cause.message !== msg ? ` (${err.cause.message})` : '';
  return code === undefined ? `${msg}${causeMsg}` : `${msg}${causeMsg} [${code}]`;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

function parseRetryAfter(v: string | null): number | undefined {
  if (v === null) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * Downloads `url` to `dest`, resuming a previous `.part` file, retrying with backoff.
 * @throws LookalikeError DOWNLOAD_FAILED
 */
export async function downloadWithResume(options: DownloadOptions): Promise<DownloadResult> {
  const log = (options.logger ?? silentLogger).child({ component: 'weights-download' });
  const part = `${options.dest}.part`;
  const retries = options.retries ?? 5;
  const baseDelay = options.retryDelayMs ?? 1000;
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 5000 },
    headersTimeout: options.idleTimeoutMs ?? 30_000,
    bodyTimeout: options.idleTimeoutMs ?? 30_000,
  });
  let attempts = 0;
  let resumed = false;
  let everConnected = false;
  let connectFailures = 0;
  try {
    for (;;) {
      attempts++;
      let offset = await sizeOf(part);
      try {
        const headers: Record<string, string> = { 'user-agent': 'lookalike-models-fetch' };
        if (offset > 0) headers.range = `bytes=${offset}-`;
        const init: Parameters<typeof fetch>[1] = { headers, dispatcher: agent };
        if (options.signal !== undefined) init.signal = options.signal;
        const res = await fetch(options.url, init);
        everConnected = true;
        let total: number | undefined;
        const length = Number(res.headers.get('content-length') ?? Number.NaN);
        if (res.status === 416 && offset > 0) {
          // Our partial file is already complete (or bigger than the resource): check, else restart.
          const m = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
          await res.body?.cancel();
          if (m !== null && Number(m[1]) === offset) break;
          await rm(part, { force: true });
          throw new HttpStatusError(416, 0);
        }
        if (res.status !== 200 && res.status !== 206) {
          await res.body?.cancel();
          throw new HttpStatusError(res.status, parseRetryAfter(res.headers.get('retry-after')));
        }
        if (res.status === 206) {
          const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
          if (m === null || Number(m[1]) !== offset) {
            // Unexpected range: start over from zero.
            await res.body?.cancel();
            await rm(part, { force: true });
            throw new HttpStatusError(206, 0);
          }
          if (m[2] !== '*') total = Number(m[2]);
          resumed = true;
          log.info({ offset }, 'resuming download');
        } else {
          offset = 0;
          if (Number.isFinite(length)) total = length;
        }
        const fh = await open(part, offset === 0 ? 'w' : 'a');
        let received = offset;
        try {
          options.onProgress?.({ received, total });
          if (res.body !== null) {
            for await (const chunk of res.body) {
              await fh.write(chunk);
              received += chunk.byteLength;
              options.onProgress?.({ received, total });
            }
          }
        } finally {
          await fh.close();
        }
        if (total !== undefined && received !== total) {
          throw new Error(`connection closed after ${received} of ${total} bytes`);
        }
        break;
      } catch (err) {
        if (options.signal?.aborted === true) throw err;
        const code = errorCode(err);
        const status = err instanceof HttpStatusError ? err.status : undefined;
        const retryable = status === undefined || status >= 500 || [206, 408, 416, 429].includes(status);
        let give = !retryable || attempts > retries;
        if (!everConnected && code !== undefined && UNREACHABLE_CODES.has(code)) give = true;
        if (!everConnected && code !== undefined && CONNECT_CODES.has(code) && ++connectFailures > 1) give = true;
        if (give) {
          throw new LookalikeError('DOWNLOAD_FAILED', `Download of ${options.url} failed: ${describe(err)}`, {
            cause: err,
            details: { url: options.url, attempts, status, code, partBytes: await sizeOf(part) },
          });
        }
        const hinted = err instanceof HttpStatusError ? err.retryAfterMs : undefined;
        const delay = Math.min(30_000, hinted ?? baseDelay * 2 ** (attempts - 1));
        log.warn({ attempt: attempts, delayMs: delay, err: describe(err) }, 'download attempt failed; retrying');
        await sleep(delay, options.signal);
      }
    }
  } finally {
    await agent.close();
  }
  const bytes = await sizeOf(part);
  await rename(part, options.dest);
  return { path: options.dest, bytes, attempts, resumed };
}

export interface FetchWeightsOptions {
  modelsDir: string;
  /** Download URL (default: the official Keras URL). */
  url?: string;
  /** Convert this local file instead of downloading. */
  from?: string;
  /**
   * Required md5 (a mismatch is CHECKSUM_MISMATCH). Default: the official md5 when downloading
   * from the official URL; otherwise none (a non-official file is recorded as source `file`).
   */
  expectedMd5?: string;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  retries?: number;
  retryDelayMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  onStep?: (step: ConvertStep | 'downloading' | 'verifying') => void;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface FetchWeightsResult extends ConvertResult {
  md5: string;
  /** True when the file is the official Keras file. */
  official: boolean;
  download: DownloadResult | undefined;
}

/**
 * `models fetch`: downloads (or takes `from`) the Keras notop weights, verifies the md5 and converts.
 * From the official URL, a wrong md5 is an error; from a mirror or a local file, a non-official md5
 * is accepted and recorded as source `file`.
 * @throws LookalikeError DOWNLOAD_FAILED, CHECKSUM_MISMATCH, WEIGHTS_INVALID
 */
export async function fetchWeights(options: FetchWeightsOptions): Promise<FetchWeightsResult> {
  const log = (options.logger ?? silentLogger).child({ component: 'weights-fetch' });
  let h5Path: string;
  let download: DownloadResult | undefined;
  let cleanup: string | undefined;
  if (options.from !== undefined) {
    h5Path = options.from;
    if (!existsSync(h5Path) || !statSync(h5Path).isFile()) {
      throw new LookalikeError('WEIGHTS_INVALID', `Weights file not found: ${h5Path}`, {
        details: { path: h5Path, reason: 'not-found' },
      });
    }
  } else {
    const url = options.url ?? OFFICIAL_WEIGHTS_URL;
    const dir = join(options.modelsDir, '.download');
    await mkdir(dir, { recursive: true });
    const name = basename(new URL(url).pathname) || OFFICIAL_WEIGHTS_NAME;
    h5Path = join(dir, name.endsWith('.h5') ? name : `${name}.h5`);
    options.onStep?.('downloading');
    const dl: DownloadOptions = { url, dest: h5Path };
    if (options.connectTimeoutMs !== undefined) dl.connectTimeoutMs = options.connectTimeoutMs;
    if (options.idleTimeoutMs !== undefined) dl.idleTimeoutMs = options.idleTimeoutMs;
    if (options.retries !== undefined) dl.retries = options.retries;
    if (options.retryDelayMs !== undefined) dl.retryDelayMs = options.retryDelayMs;
    if (options.onProgress !== undefined) dl.onProgress = options.onProgress;
    if (options.signal !== undefined) dl.signal = options.signal;
    dl.logger = log;
    try {
      download = await downloadWithResume(dl);
    } catch (err) {
      // Keep a partial file for the next run to resume; drop the folder if nothing arrived.
      if ((await sizeOf(`${h5Path}.part`)) === 0) await rm(dir, { recursive: true, force: true });
      throw err;
    }
    cleanup = dir;
  }
  try {
    options.onStep?.('verifying');
    const md5 = await hashFile(h5Path, 'md5');
    const official = md5 === OFFICIAL_WEIGHTS_MD5;
    const expected =
      options.expectedMd5?.toLowerCase() ??
      (options.from === undefined && (options.url ?? OFFICIAL_WEIGHTS_URL) === OFFICIAL_WEIGHTS_URL
        ? OFFICIAL_WEIGHTS_MD5
        : undefined);
    if (expected !== undefined && md5 !== expected) {
      throw new LookalikeError(
        'CHECKSUM_MISMATCH',
        `${options.from ?? 'Downloaded file'} has md5 ${md5}, expected ${expected}: the file is corrupt or not the expected one`,
        { details: { expected, actual: md5 } },
      );
    }
    if (!official) log.info({ md5, expected: OFFICIAL_WEIGHTS_MD5 }, 'not the official Keras weights file');
    const convert: Parameters<typeof convertWeightsFile>[0] = {
      h5Path,
      modelsDir: options.modelsDir,
      md5,
      sourceName: basename(h5Path),
      logger: log,
    };
    if (options.onStep !== undefined) convert.onStep = options.onStep;
    const result = await convertWeightsFile(convert);
    return { ...result, md5, official, download };
  } finally {
    // The downloaded file (~95 MB) is not kept: the converted files are what the product reads.
    if (cleanup !== undefined) await rm(cleanup, { recursive: true, force: true });
  }
}
