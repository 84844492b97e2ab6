import type { Logger } from '@lookalike/core';
import pg from 'pg';

/**
 * A catalog's version, seen by a listener. `reason: 'notify'` — a write committed;
 * `'connect'` — the listener (re)connected and read the current versions, because notifications
 * sent while it was disconnected are lost: the caller compares with the version it holds and
 * catches up with `changesSince`.
 */
export interface VersionEvent {
  catalog: string;
  version: number;
  reason: 'notify' | 'connect';
}

export interface ListenOptions {
  /** Only this catalog's versions (default: every catalog). */
  catalog?: string;
  /** First reconnect delay (default 100 ms), doubling up to `maxReconnectDelayMs` (default 2 s). */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
}

export interface CatalogListener {
  /** True while the dedicated connection is up and LISTENing. */
  readonly connected: boolean;
  /** Resolves once the listener has connected and reported the current versions (the first time). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** The NOTIFY channel; the payload is `{"catalog": name, "version": n}` (well under 8000 bytes). */
export const CATALOG_CHANNEL = 'lookalike_catalog';

/**
 * LISTEN on a dedicated `pg.Client` (never a pooled one). On every (re)connect it LISTENs first,
 * then reports the current versions, so nothing committed in between is missed. `onVersion` is
 * called for one event at a time, in the order they arrive (the next waits for an async handler);
 * none starts after `close()`.
 */
export function listenCatalogVersions(
  url: string,
  onVersion: (event: VersionEvent) => void | Promise<void>,
  logger: Logger,
  options: ListenOptions = {},
): CatalogListener {
  const log = logger.child({ component: 'pg-listen' });
  const firstDelay = options.reconnectDelayMs ?? 100;
  const maxDelay = options.maxReconnectDelayMs ?? 2000;
  let delay = firstDelay;
  let closed = false;
  let connected = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  let outageLogged = false;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  // One call at a time, in the order received: a handler that catches up with `changesSince` never
  // runs beside another (which could apply older changes over newer ones). A notification older than
  // a version already delivered for its catalog is dropped; a connect report is always delivered.
  let chain = Promise.resolve();
  const newest = new Map<string, number>();
  const deliver = (event: VersionEvent) => {
    if (options.catalog !== undefined && event.catalog !== options.catalog) return;
    const held = newest.get(event.catalog);
    if (event.reason === 'notify' && held !== undefined && event.version < held) return;
    newest.set(event.catalog, event.version);
    chain = chain
      .then(() => (closed ? undefined : onVersion(event)))
      .catch((err: unknown) => log.error({ err, event }, 'catalog version handler failed'));
  };

  const schedule = () => {
    if (closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    delay = Math.min(delay * 2, maxDelay);
  };

  const lost = (c: pg.Client, err?: Error) => {
    if (client !== c) return;
    client = undefined;
    connected = false;
    c.removeAllListeners('notification');
    c.end().catch(() => {});
    if (closed) return;
    if (!outageLogged) {
      log.warn({ err }, 'catalog listener lost its connection; reconnecting');
      outageLogged = true;
    }
    schedule();
  };

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, keepAlive: true });
    client = c;
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.on('notification', (msg) => {
      if (msg.channel !== CATALOG_CHANNEL || msg.payload === undefined) return;
      try {
        const p = JSON.parse(msg.payload) as { catalog?: unknown; version?: unknown };
        if (typeof p.catalog === 'string' && typeof p.version === 'number') {
          deliver({ catalog: p.catalog, version: p.version, reason: 'notify' });
        }
      } catch (err) {
        log.warn({ err, payload: msg.payload }, 'unreadable catalog notification');
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CATALOG_CHANNEL}`);
      const r = await c.query<{ name: string; version: string }>(
        options.catalog === undefined
          ? 'SELECT name, version FROM catalogs ORDER BY name'
          : 'SELECT name, version FROM catalogs WHERE name = $1',
        options.catalog === undefined ? [] : [options.catalog],
      );
      if (client !== c || closed) return;
      connected = true;
      delay = firstDelay;
      if (outageLogged) log.info('catalog listener reconnected');
      outageLogged = false;
      for (const row of r.rows) deliver({ catalog: row.name, version: Number(row.version), reason: 'connect' });
      if (options.catalog !== undefined && r.rows.length === 0) {
        deliver({ catalog: options.catalog, version: 0, reason: 'connect' });
      }
      markReady();
    } catch (err) {
      lost(c, err as Error);
    }
  };

  void connect();

  return {
    get connected() {
      return connected;
    },
    ready,
    async close() {
      closed = true;
      connected = false;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const c = client;
      client = undefined;
      markReady();
      if (c !== undefined) await c.end().catch(() => {});
    },
  };
}
