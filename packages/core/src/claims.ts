/**
 * "Answered once": the adapters claim an event (a Slack share by `channel:ts`, a Discord message
 * by its id) before answering it. In one process the claims live in memory; with `REDIS_URL`
 * every replica claims through Redis (@lookalike/redis `createEventDeduper`, the same shape), so
 * a Slack retry delivered to another replica is not answered twice.
 *
 * At-least-once, not at-most-once: a claim lasts a short processing ttl until `done` makes it
 * last the full ttl; `failed` frees it at once, so a retry is answered.
 */
import { withDeadline } from './deadline.js';
import type { Logger } from './ports.js';
import { silentLogger } from './ports.js';

/** The adapters' de-duplication port. */
export interface EventClaims {
  /**
   * True for the first caller of `key`: it answers, then calls `done` (or `failed`). False while
   * another claim is being answered, or after it was answered (within the ttl).
   */
  claim(key: string): Promise<boolean>;
  /** The claimed event was answered: remember it for the full ttl. */
  done(key: string): Promise<void>;
  /** Answering the claimed event failed: forget the claim, so a retry is answered. */
  failed(key: string): Promise<void>;
}

export interface MemoryClaimsOptions {
  /** How long an answered event is remembered. @defaultValue 600000 (Slack retries for about 5 minutes) */
  ttlMs?: number;
  /**
   * How long a claim lasts before it is answered. In one process a claim is always settled
   * (`done` or `failed`), so by default it lasts as long as an answered event.
   * @defaultValue ttlMs
   */
  processingTtlMs?: number;
  /** Most keys kept; the oldest go first. @defaultValue 5000 */
  maxKeys?: number;
  /** Clock in milliseconds (tests). @defaultValue Date.now */
  now?: () => number;
}

interface Entry {
  done: boolean;
  expires: number;
}

/** Claims held in this process's memory (the embedded default). */
export function createMemoryClaims(options: MemoryClaimsOptions = {}): EventClaims {
  const ttlMs = options.ttlMs ?? 600_000;
  const processingTtlMs = options.processingTtlMs ?? ttlMs;
  const maxKeys = options.maxKeys ?? 5000;
  if (!(ttlMs > 0 && processingTtlMs > 0 && processingTtlMs <= ttlMs)) {
    throw new RangeError('ttlMs and processingTtlMs must be positive, processingTtlMs ≤ ttlMs');
  }
  if (!(maxKeys >= 1)) throw new RangeError('maxKeys must be at least 1');
  const now = options.now ?? Date.now;
  // Insertion order is expiry order for entries of one kind: pruning stops at the first live one.
  const entries = new Map<string, Entry>();
  const prune = (t: number): void => {
    for (const [key, e] of entries) {
      if (entries.size <= maxKeys && e.expires > t) break;
      entries.delete(key);
    }
  };
  const set = (key: string, entry: Entry): void => {
    entries.delete(key);
    entries.set(key, entry);
  };
  return {
    async claim(key) {
      const t = now();
      const e = entries.get(key);
      if (e !== undefined && e.expires > t) return false;
      set(key, { done: false, expires: t + processingTtlMs });
      prune(t);
      return true;
    },
    async done(key) {
      set(key, { done: true, expires: now() + ttlMs });
      prune(now());
    },
    async failed(key) {
      const e = entries.get(key);
      if (e !== undefined && !e.done) entries.delete(key);
    },
  };
}

export interface FallbackClaimsOptions {
  /** Used while `shared` fails. @defaultValue createMemoryClaims() */
  local?: EventClaims;
  logger?: Logger;
  /** What the shared claims are, in the warning (e.g. "Redis"). @defaultValue 'shared store' */
  name?: string;
  /** A shared call that has not answered after this long counts as failed. @defaultValue 2000 */
  timeoutMs?: number;
}

/**
 * `shared` claims (Redis) that fall back to local ones while the shared store fails: an event is
 * then answered by the replica that got it (a retry to another replica may be answered twice),
 * rather than dropped. Warns once per outage, and once when the shared claims answer again.
 */
export function withLocalClaims(shared: EventClaims, options: FallbackClaimsOptions = {}): EventClaims {
  const local = options.local ?? createMemoryClaims();
  const log = (options.logger ?? silentLogger).child({ component: 'event-claims' });
  const name = options.name ?? 'shared store';
  const timeoutMs = options.timeoutMs ?? 2000;
  /** Keys claimed locally (during an outage): their done/failed stay local. */
  const localKeys = new Set<string>();
  let down = false;
  const fellBack = (err: unknown): void => {
    if (down) return;
    down = true;
    log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      `event de-duplication: the ${name} failed; claiming in this process until it answers again`,
    );
  };
  const recovered = (): void => {
    if (!down) return;
    down = false;
    log.info({}, `event de-duplication: the ${name} answers again`);
  };
  return {
    async claim(key) {
      try {
        const claimed = await withDeadline(shared.claim(key), timeoutMs);
        recovered();
        return claimed;
      } catch (err) {
        fellBack(err);
        localKeys.add(key);
        return local.claim(key);
      }
    },
    async done(key) {
      if (localKeys.delete(key)) return local.done(key);
      try {
        await withDeadline(shared.done(key), timeoutMs);
      } catch (err) {
        // The claim runs out by itself; a retry after that would be answered again.
        fellBack(err);
      }
    },
    async failed(key) {
      if (localKeys.delete(key)) return local.failed(key);
      try {
        await withDeadline(shared.failed(key), timeoutMs);
      } catch (err) {
        fellBack(err);
      }
    },
  };
}
