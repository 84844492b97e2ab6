/**
 * The ids seen so far in a feed, for FEED_ROW_DUPLICATE_ID: a 64-bit fingerprint per id (two
 * independent 32-bit hashes) in an open-addressing table at most 3/4 full, so 11–21 bytes per id
 * instead of the 60–80 a Set of strings costs (a million products: 16 MB at most). A wrong
 * "duplicate" needs two different ids with the same 64 bits: about 3 in a million for a feed of
 * 10 million products.
 */

function hashes(s: string): [number, number] {
  // FNV-1a and a multiply-rotate hash over the UTF-16 code units, each finished with murmur3's fmix32.
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b = (b << 13) | (b >>> 19);
  }
  return [fmix(a), fmix(b)];
}

function fmix(h0: number): number {
  let h = h0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export class IdSet {
  #table = new Int32Array(2 * 1024);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `id`; false when it was (by fingerprint) already there. */
  add(id: string): boolean {
    const [h1, h20] = hashes(id);
    // (0, 0) marks an empty slot.
    const h2 = h1 === 0 && h20 === 0 ? 1 : h20;
    if (!this.#insert(this.#table, h1, h2)) return false;
    this.#size++;
    if (this.#size * 4 > (this.#table.length / 2) * 3) this.#grow();
    return true;
  }

  #insert(table: Int32Array, h1: number, h2: number): boolean {
    const mask = table.length / 2 - 1;
    for (let slot = h1 & mask; ; slot = (slot + 1) & mask) {
      const x = table[2 * slot] as number;
      const y = table[2 * slot + 1] as number;
      if (x === 0 && y === 0) {
        table[2 * slot] = h1;
        table[2 * slot + 1] = h2;
        return true;
      }
      if (x === h1 && y === h2) return false;
    }
  }

  #grow(): void {
    const old = this.#table;
    const next = new Int32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) {
      const x = old[i] as number;
      const y = old[i + 1] as number;
      if (x !== 0 || y !== 0) this.#insert(next, x, y);
    }
    this.#table = next;
  }
}
