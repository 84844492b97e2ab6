/**
 * Keeps a replica at the catalog's newest version: LISTEN/NOTIFY (the store's listener, which
 * reconnects on its own and reports the current version after every connect) names a version;
 * one catch-up at a time fetches `changesSince(held)` and applies it. Versions that arrive while
 * a catch-up runs coalesce (the newest wins), so a burst of writes costs one or two fetches.
 * A failed fetch (PostgreSQL away) is retried with backoff; the replica answers from memory meanwhile.
 */
import { type Logger, LookalikeError } from '@lookalike/core';
import type { CatalogListener, Changes, PgStore } from '@lookalike/pg';

export interface FollowerOptions {
  store: PgStore;
  catalog: string;
  /** The model key whose vectors the replica holds. */
  model: string;
  /** The version the replica holds at the start. */
  version: number;
  /** Applies one catch-up's changes (synchronously: nothing else runs between fetch and apply). */
  apply: (changes: Changes) => void;
  logger: Logger;
  /** First retry delay after a failed catch-up. @defaultValue 100 */
  retryDelayMs?: number;
  /** @defaultValue 2000 */
  maxRetryDelayMs?: number;
}

export interface Follower {
  /** The version the replica holds. */
  readonly version: number;
  /** Whether the change listener is connected now. */
  readonly following: boolean;
  /** Resolves once the held version is `version` or later. */
  whenAt(version: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

interface Waiter {
  version: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export function followCatalog(o: FollowerOptions): Follower {
  const log = o.logger;
  const firstDelay = o.retryDelayMs ?? 100;
  const maxDelay = o.maxRetryDelayMs ?? 2000;
  let version = o.version;
  let target = o.version;
  let closed = false;
  let running: Promise<void> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let delay = firstDelay;
  let failing = false;
  const waiters = new Set<Waiter>();

  const settle = () => {
    for (const w of waiters) {
      if (version < w.version) continue;
      waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve();
    }
  };

  const retryLater = () => {
    retry = setTimeout(() => {
      retry = undefined;
      kick();
    }, delay);
    delay = Math.min(delay * 2, maxDelay);
  };

  const catchUp = async () => {
    // `target` may rise while a fetch is in flight (a NOTIFY for a later commit): the loop goes on.
    while (!closed && version < target) {
      let changes: Changes;
      try {
        changes = await o.store.changesSince(o.catalog, version, o.model);
        if (closed) return;
        o.apply(changes);
      } catch (err) {
        if (closed) return;
        if (!failing) log.warn({ err, version, target }, 'catching up with the catalog failed; retrying');
        failing = true;
        retryLater();
        return;
      }
      if (failing) log.info({ version: changes.version }, 'catalog reachable again; catching up');
      failing = false;
      if (changes.upserts.length > 0 || changes.removals.length > 0) {
        log.debug(
          { from: version, to: changes.version, upserts: changes.upserts.length, removals: changes.removals.length },
          'catalog changes applied',
        );
      }
      if (changes.version <= version) {
        // Announced but not there (yet): look again later rather than in a tight loop.
        log.debug({ held: version, catalog: changes.version, target }, 'announced catalog version not visible yet');
        retryLater();
        return;
      }
      delay = firstDelay;
      version = changes.version;
      settle();
    }
  };

  function kick(): void {
    if (closed || running !== undefined || retry !== undefined || version >= target) return;
    running = catchUp().finally(() => {
      running = undefined;
      // A version that arrived during the last fetch's apply is picked up at once.
      kick();
    });
  }

  const listener: CatalogListener = o.store.listen(
    (event) => {
      if (event.version < version) {
        // A report after a reconnect below what this replica holds: the database was replaced or
        // restored. Writes up to the held version are missed until this replica is restarted.
        if (event.reason === 'connect') {
          log.warn({ held: version, catalog: event.version }, 'catalog version is behind the one this replica holds');
        }
        return;
      }
      if (event.version > target) target = event.version;
      kick();
    },
    { catalog: o.catalog },
  );

  return {
    get version() {
      return version;
    },
    get following() {
      return !closed && listener.connected;
    },
    whenAt(wanted, timeoutMs) {
      if (version >= wanted) return Promise.resolve();
      if (closed) return Promise.reject(new LookalikeError('INTERNAL', 'replica catalog is closed'));
      return new Promise<void>((resolve, reject) => {
        const w: Waiter = {
          version: wanted,
          resolve,
          reject,
          timer: setTimeout(() => {
            waiters.delete(w);
            reject(
              new LookalikeError(
                'INTERNAL',
                `replica did not reach catalog version ${wanted} within ${timeoutMs} ms (it holds ${version})`,
              ),
            );
          }, timeoutMs),
        };
        waiters.add(w);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      retry = undefined;
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.reject(new LookalikeError('INTERNAL', 'replica catalog is closed'));
      }
      waiters.clear();
      await listener.close();
      await running;
    },
  };
}
