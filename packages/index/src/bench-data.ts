/**
 * Clustered unit vectors for `lookalike bench search`: a two-level Gaussian mixture (centres, then
 * sub-centres around them, then isotropic noise), L2-normalised like ResNet50 embeddings. Random
 * points in 2048-d are all nearly equidistant, which would make nearest neighbours meaningless.
 * Queries are fresh draws from the same mixture. Deterministic for a seed.
 */

/** mulberry32, in [0, 1). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = rand() || 1e-12;
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface BenchData {
  /** n × d, row-major, unit rows. */
  vectors: Float32Array;
  /** nq × d. */
  queries: Float32Array;
}

export function clusteredData(n: number, nq: number, d: number, seed = 13): BenchData {
  const g = normal(uniform(seed));
  const pick = uniform(seed ^ 0x9e3779b9);
  const centres = Math.max(8, Math.round(n / 150));
  const subPer = 8;
  const subs = new Float32Array(centres * subPer * d);
  const c = new Float32Array(d);
  const inv = 1 / Math.sqrt(d);
  for (let ci = 0; ci < centres; ci++) {
    for (let j = 0; j < d; j++) c[j] = g() * inv;
    for (let s = 0; s < subPer; s++) {
      const o = (ci * subPer + s) * d;
      for (let j = 0; j < d; j++) subs[o + j] = (c[j] as number) + 0.6 * g() * inv;
    }
  }
  const draw = (out: Float32Array, row: number) => {
    const o = Math.floor(pick() * centres * subPer) * d;
    const r = row * d;
    let sq = 0;
    for (let j = 0; j < d; j++) {
      const v = (subs[o + j] as number) + 0.45 * g() * inv;
      out[r + j] = v;
      sq += v * v;
    }
    const k = 1 / Math.sqrt(sq);
    for (let j = 0; j < d; j++) out[r + j] = (out[r + j] as number) * k;
  };
  const vectors = new Float32Array(n * d);
  for (let i = 0; i < n; i++) draw(vectors, i);
  const queries = new Float32Array(nq * d);
  for (let i = 0; i < nq; i++) draw(queries, i);
  return { vectors, queries };
}

/** A float32 matrix as a NumPy .npy (version 1.0) file. */
export function npyBytes(data: Float32Array, rows: number, cols: number): Buffer[] {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return [pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}
