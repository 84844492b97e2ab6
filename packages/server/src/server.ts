/**
 * The process's one HTTP server (node:http): the local page and its API, /healthz (liveness),
 * /readyz (readiness), /metrics, and routes mounted by adapters (Slack's /slack/events).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type Answer,
  asLookalikeError,
  DEFAULT_IMAGE_LIMITS,
  type ErrorCode,
  type ImageLimits,
  type Logger,
  LookalikeError,
  type ReadinessProbe,
  type ResultImage,
  type SimilarityService,
  silentLogger,
} from '@lookalike/core';
import { answerJson } from './answer-json.js';
import { createHostCheck, hasBadEscape, isSameOrigin, isStateChanging, requestScheme } from './guard.js';
import { readMoreBody } from './more-request.js';
import { readUpload } from './multipart.js';
import { PAGE_CSP, renderPage } from './page/html.js';

/** A route mounted beside the built-in ones (matched on the exact path, query ignored). */
export interface HttpRoute {
  /** Upper-case HTTP method; any method when absent. */
  method?: string;
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
}

/** What GET /metrics serves (the runtime's prom-client registry); the server knows no metrics library. */
export interface MetricsSource {
  /** e.g. `text/plain; version=0.0.4; charset=utf-8` */
  readonly contentType: string;
  render(): Promise<string>;
}

export interface HttpServerOptions {
  service: SimilarityService;
  logger?: Logger;
  /** Serve the local page and its /api. When false, only /healthz, /readyz, /metrics and mounted routes. @defaultValue true */
  localPage?: boolean;
  /** The configured image limits (config.image): bound uploads, quoted on the page and in errors. @defaultValue core's defaults */
  imageLimits?: ImageLimits;
  /** Served at GET /metrics (whether or not the local page is on). Absent: /metrics is 404. */
  metrics?: MetricsSource;
  /**
   * What GET /readyz reports: 200 `{ ready: true, checks }` when every check is ok, else 503
   * `{ ready: false, checks }` (the runtime's: database, Redis, index loaded and its version).
   * @defaultValue one check, `catalog`: the catalog is open (its size as detail); always ready
   */
  readiness?: ReadinessProbe;
  routes?: readonly HttpRoute[];
  /** How long a collage and its result images stay fetchable. @defaultValue 600000 (10 min) */
  answerTtlMs?: number;
  /** Answers kept in memory at most. @defaultValue 32 */
  maxAnswers?: number;
  /** The rate-limit identity of a page request. @defaultValue `web:<remote address>` */
  userIdOf?: (req: IncomingMessage) => string;
  /** Longest wait for in-flight requests in close() before sockets are cut. @defaultValue 10000 */
  closeGraceMs?: number;
  /** Uploads read at once; more get BUSY (each is buffered in memory). @defaultValue 8 */
  maxConcurrentUploads?: number;
  /**
   * The configured HOST (`config.http.host`). The page and /api answer only requests whose Host
   * header (port ignored) is this host, `localhost`, `127.0.0.1`, `[::1]` or one of `publicHosts`;
   * others get `421 HOST_MISDIRECTED` (DNS rebinding). `0.0.0.0` / `::` mean every local
   * interface: the machine's interface addresses are accepted too. /healthz, /readyz, /metrics and mounted
   * routes (Slack's signed events) are not checked.
   * @defaultValue the host given to listen()
   */
  host?: string;
  /**
   * More host names the page and /api answer to (`config.http.publicHosts`,
   * LOOKALIKE_PUBLIC_HOSTS), e.g. the name of a reverse proxy in front; ports are ignored.
   * @defaultValue []
   * @throws TypeError (from createHttpServer) when an entry is not a host name
   */
  publicHosts?: readonly string[];
  /** The interface addresses accepted for a wildcard host. @defaultValue the addresses of os.networkInterfaces() */
  interfaceAddresses?: () => readonly string[];
}

export interface HttpServer {
  /** Starts listening; port 0 picks a free port. */
  listen(port: number, host: string): Promise<{ port: number; host: string }>;
  /** Mounts a route after creation (e.g. when an adapter starts later). */
  addRoute(route: HttpRoute): void;
  /** Stops accepting, lets in-flight requests finish (bounded by closeGraceMs), then closes. */
  close(): Promise<void>;
  readonly server: Server;
}

/** HTTP status of each error code. */
export const HTTP_STATUS: Readonly<Partial<Record<ErrorCode, number>>> = Object.freeze({
  UNSUPPORTED_IMAGE: 415,
  IMAGE_TOO_LARGE: 413,
  IMAGE_DECODE_FAILED: 400,
  NO_IMAGE: 400,
  FETCH_FAILED: 502,
  FETCH_NOT_IMAGE: 502,
  HOST_NOT_ALLOWED: 400,
  RATE_LIMITED: 429,
  BUSY: 503,
  INDEX_EMPTY: 503,
  INDEX_BUILDING: 503,
  INDEX_MODEL_MISMATCH: 503,
  REINDEX_IN_PROGRESS: 409,
  FORBIDDEN: 403,
  HOST_MISDIRECTED: 421,
  ORIGIN_FORBIDDEN: 403,
  BAD_REQUEST: 400,
  ITEM_NOT_FOUND: 404,
});

interface StoredAnswer {
  answer: Answer;
  expires: number;
  images?: Promise<ResultImage[]>;
}

const FILTER_FIELDS = ['gender', 'articleType', 'masterCategory', 'subCategory', 'baseColour', 'season', 'usage'];

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  const e = asLookalikeError(err);
  const status = HTTP_STATUS[e.code] ?? 500;
  const headers: Record<string, string> = {};
  if (e.code === 'RATE_LIMITED') {
    const ms = Number(e.details.retryAfterMs ?? 60_000);
    headers['retry-after'] = String(Math.max(1, Math.ceil(ms / 1000)));
  }
  if (e.code === 'BUSY' || e.code === 'INDEX_BUILDING') headers['retry-after'] = '5';
  sendJson(res, status, { error: { code: e.isUserFacing ? e.code : 'INTERNAL', message: e.userMessage } }, headers);
}

/** Creates the server (not yet listening). */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { service } = options;
  const log = (options.logger ?? silentLogger).child({ component: 'http' });
  const localPage = options.localPage ?? true;
  const imageLimits = options.imageLimits ?? DEFAULT_IMAGE_LIMITS;
  const metrics = options.metrics;
  const readiness: ReadinessProbe =
    options.readiness ??
    (async () => ({
      ready: true,
      checks: { catalog: { ok: true, detail: `${service.status().catalogSize} items` } },
    }));
  const ttl = options.answerTtlMs ?? 600_000;
  const maxAnswers = options.maxAnswers ?? 32;
  const closeGraceMs = options.closeGraceMs ?? 10_000;
  const maxConcurrentUploads = options.maxConcurrentUploads ?? 8;
  let uploads = 0;
  const userIdOf = options.userIdOf ?? ((req: IncomingMessage) => `web:${req.socket.remoteAddress ?? 'unknown'}`);
  const routes: HttpRoute[] = [...(options.routes ?? [])];
  const answers = new Map<string, StoredAnswer>();
  const page = renderPage({ limits: imageLimits });
  let closing: Promise<void> | undefined;
  const publicHosts = options.publicHosts ?? [];
  const hostCheckFor = (host: string) =>
    createHostCheck({
      host,
      publicHosts,
      ...(options.interfaceAddresses === undefined ? {} : { interfaceAddresses: options.interfaceAddresses }),
    });
  // Built now, so a bad public host fails at creation; without `host`, rebuilt for the host given
  // to listen() (and loopback only until then).
  let hostAllowed = hostCheckFor(options.host ?? '127.0.0.1');
  let hostKnown = options.host !== undefined;

  const remember = (answer: Answer): void => {
    const now = Date.now();
    for (const [id, a] of answers) if (a.expires < now) answers.delete(id);
    answers.set(answer.requestId, { answer, expires: now + ttl });
    while (answers.size > maxAnswers) {
      const oldest = answers.keys().next().value;
      if (oldest === undefined) break;
      answers.delete(oldest);
    }
  };
  const recall = (id: string): StoredAnswer | undefined => {
    const a = answers.get(id);
    if (a === undefined || a.expires < Date.now()) return undefined;
    return a;
  };

  async function similar(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const upload = await readUpload(req, { limits: imageLimits });
    const filters: Record<string, string> = {};
    for (const f of FILTER_FIELDS) {
      const v = upload.fields[f]?.trim();
      if (v !== undefined && v !== '') filters[f] = v;
    }
    const kRaw = Number(upload.fields.k ?? 6);
    const k = Number.isFinite(kRaw) ? Math.max(1, Math.min(10, Math.trunc(kRaw))) : 6;
    const answer = await service.findSimilar(upload.bytes, {
      userId: userIdOf(req),
      requestId,
      surface: 'page',
      k,
      ...(Object.keys(filters).length > 0 ? { filters } : {}),
    });
    remember(answer);
    sendJson(res, 200, answerJson(answer));
  }

  /** POST /api/more: more like a result of an earlier answer, from its stored vector. */
  async function more(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const body = await readMoreBody(req);
    const answer = await service.moreLikeThis(body.itemId, {
      userId: userIdOf(req),
      requestId,
      surface: 'page',
      exclude: body.exclude,
      ...(body.k === undefined ? {} : { k: body.k }),
      ...(body.filters === undefined ? {} : { filters: body.filters }),
    });
    remember(answer);
    sendJson(res, 200, answerJson(answer));
  }

  async function itemImage(req: IncomingMessage, res: ServerResponse, url: URL, id: string): Promise<void> {
    const requestId = url.searchParams.get('request');
    const candidates = requestId !== null ? [recall(requestId)] : [...answers.values()].reverse();
    for (const stored of candidates) {
      if (stored === undefined) continue;
      const item = stored.answer.results.find((r) => r.id === id);
      if (item === undefined) continue;
      stored.images ??= stored.answer.images();
      const img = (await stored.images).find((i) => i.rank === item.rank);
      if (img === undefined) break;
      res.writeHead(200, {
        'content-type': img.contentType,
        'content-length': img.bytes.length,
        'cache-control': 'private, max-age=600',
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : img.bytes);
      return;
    }
    sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'That image is no longer available.' } });
  }

  /** The page's and /api's guards: Host (DNS rebinding), then Origin on state-changing requests. */
  function guard(req: IncomingMessage, method: string, path: string): void {
    const host = req.headers.host;
    if (!hostAllowed(host)) {
      log.info({ host, method, path }, 'refused: foreign Host');
      throw new LookalikeError('HOST_MISDIRECTED', `Host ${JSON.stringify(host ?? null)} is not served here`, {
        details: { host: host ?? null },
      });
    }
    const origin = req.headers.origin;
    if (origin !== undefined && isStateChanging(method)) {
      if (!isSameOrigin(origin, host, requestScheme(req.headers['x-forwarded-proto']))) {
        log.info({ origin, host, method, path }, 'refused: cross-origin request');
        throw new LookalikeError('ORIGIN_FORBIDDEN', `Origin ${origin} is not this server's`, { details: { origin } });
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    let url: URL;
    try {
      // Parsed as a path even when it starts with `//` (which `new URL(target, base)` takes as a host).
      url = new URL(target.startsWith('/') ? `http://localhost${target}` : target, 'http://localhost');
    } catch {
      throw new LookalikeError('BAD_REQUEST', `Unparsable request target ${JSON.stringify(target)}`);
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (hasBadEscape(path)) throw new LookalikeError('BAD_REQUEST', `Malformed % escape in ${JSON.stringify(path)}`);

    const mounted = routes.find((r) => r.path === path && (r.method === undefined || r.method === method));
    if (mounted !== undefined) {
      await mounted.handler(req, res);
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { ok: true, catalogSize: service.status().catalogSize });
      return;
    }
    if (path === '/readyz') {
      const { ready, checks } = await readiness();
      sendJson(res, ready ? 200 : 503, { ready, checks });
      return;
    }
    if (path === '/metrics' && metrics !== undefined && (method === 'GET' || method === 'HEAD')) {
      const text = await metrics.render();
      res.writeHead(200, {
        'content-type': metrics.contentType,
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      res.end(method === 'HEAD' ? undefined : text);
      return;
    }
    if (!localPage) {
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'Not found.' } });
      return;
    }
    guard(req, method, path);
    const isGet = method === 'GET' || method === 'HEAD';
    if (path === '/' && isGet) {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(page),
        'content-security-policy': PAGE_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-cache',
      });
      res.end(method === 'HEAD' ? undefined : page);
      return;
    }
    if (path === '/api/similar' && method === 'POST') {
      if (uploads >= maxConcurrentUploads) {
        throw new LookalikeError('BUSY', `${uploads} uploads in progress`);
      }
      uploads++;
      try {
        await similar(req, res, randomUUID().slice(0, 8));
      } finally {
        uploads--;
      }
      return;
    }
    if (path === '/api/more' && method === 'POST') {
      await more(req, res, randomUUID().slice(0, 8));
      return;
    }
    if (path === '/api/status' && isGet) {
      sendJson(res, 200, service.status());
      return;
    }
    if (path === '/api/facets' && isGet) {
      sendJson(res, 200, service.facets());
      return;
    }
    const collage = /^\/api\/collage\/([^/]+)$/.exec(path);
    if (collage !== null && isGet) {
      const stored = recall(decodeURIComponent(collage[1] ?? ''));
      if (stored === undefined) {
        sendJson(res, 404, { error: { code: 'NOT_FOUND', message: 'That collage has expired. Search again.' } });
        return;
      }
      res.writeHead(200, {
        'content-type': 'image/jpeg',
        'content-length': stored.answer.collage.length,
        'cache-control': 'private, max-age=600',
        'x-content-type-options': 'nosniff',
      });
      res.end(method === 'HEAD' ? undefined : stored.answer.collage);
      return;
    }
    const item = /^\/api\/items\/([^/]+)\/image$/.exec(path);
    if (item !== null && isGet) {
      await itemImage(req, res, url, decodeURIComponent(item[1] ?? ''));
      return;
    }
    const known = ['/', '/api/similar', '/api/more', '/api/status', '/api/facets'].includes(path);
    sendJson(
      res,
      known ? 405 : 404,
      known
        ? { error: { code: 'METHOD_NOT_ALLOWED', message: 'Method not allowed.' } }
        : { error: { code: 'NOT_FOUND', message: 'Not found.' } },
    );
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    res.on('finish', () => {
      const ms = Math.round(performance.now() - started);
      log.debug({ method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode, ms }, 'request');
    });
    handle(req, res).catch((err: unknown) => {
      const e = asLookalikeError(err);
      if (!e.isUserFacing) log.error({ err, path: (req.url ?? '').split('?')[0] }, 'request failed');
      sendError(res, e);
      // Don't keep reading a body we refused (e.g. an oversized upload).
      if (!req.complete) req.resume();
    });
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (_err, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    addRoute(route) {
      routes.push(route);
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          if (!hostKnown) {
            hostAllowed = hostCheckFor(host);
            hostKnown = true;
          }
          const addr = server.address() as AddressInfo;
          log.info({ host: addr.address, port: addr.port, localPage }, 'listening');
          resolve({ port: addr.port, host: addr.address });
        });
      });
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        const timer = setTimeout(() => server.closeAllConnections(), closeGraceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          answers.clear();
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** Re-exported for adapters that reply with the standard JSON error shape. */
export function httpErrorBody(err: unknown): { status: number; body: { error: { code: string; message: string } } } {
  const e = err instanceof LookalikeError ? err : asLookalikeError(err);
  return {
    status: HTTP_STATUS[e.code] ?? 500,
    body: { error: { code: e.isUserFacing ? e.code : 'INTERNAL', message: e.userMessage } },
  };
}
