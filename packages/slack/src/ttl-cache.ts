/** A tiny set with per-entry expiry, used to answer each Slack share once. */
export class TtlSet {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #entries = new Map<string, number>();

  /**
   * @param ttlMs how long a key is remembered. @defaultValue 10 minutes
   * @param max most keys kept; the oldest are dropped first. @defaultValue 5000
   */
  constructor(ttlMs = 10 * 60_000, max = 5000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /** Adds the key; returns false when it was already present (and not expired). */
  add(key: string, now = Date.now()): boolean {
    const expiry = this.#entries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.#entries.delete(key);
    this.#entries.set(key, now + this.#ttlMs);
    this.#prune(now);
    return true;
  }

  get size(): number {
    return this.#entries.size;
  }

  #prune(now: number): void {
    for (const [key, expiry] of this.#entries) {
      if (this.#entries.size <= this.#max && expiry > now) break;
      this.#entries.delete(key);
    }
  }
}
