/**
 * The seed's own search, for `lookalike bench search`: scikit-learn's
 * NearestNeighbors(n_neighbors=6, algorithm='brute', metric='euclidean') in python3, one query at
 * a time. The vectors go to it through temp .npy files. Undefined result + reason when python3 or
 * scikit-learn is missing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npyBytes } from './bench-data.js';

const SCRIPT = `
import json, sys, time
try:
    import numpy as np
    from sklearn.neighbors import NearestNeighbors
except Exception as e:
    print(json.dumps({"missing": str(e)})); sys.exit(0)
X = np.load(sys.argv[1]); Q = np.load(sys.argv[2]); k = int(sys.argv[3])
nn = NearestNeighbors(n_neighbors=k, algorithm='brute', metric='euclidean').fit(X)
nn.kneighbors(Q[0:1])
times, ids = [], []
for i in range(Q.shape[0]):
    t0 = time.perf_counter()
    _, idx = nn.kneighbors(Q[i:i + 1])
    times.append((time.perf_counter() - t0) * 1000.0)
    ids.append([int(j) for j in idx[0]])
print(json.dumps({"times": times, "ids": ids}))
`;

export type SklearnResult = { ok: true; timesMs: number[]; ids: number[][] } | { ok: false; reason: string };

/**
 * Runs with `python`, or else with python3 on PATH and then /usr/bin/python3 (where Debian's
 * python3-sklearn lives when another python3, e.g. pyenv's, comes first on PATH).
 */
export async function runSklearn(
  vectors: Float32Array,
  queries: Float32Array,
  d: number,
  k: number,
  python?: string,
): Promise<SklearnResult> {
  let last: SklearnResult = { ok: false, reason: 'python3 not found' };
  for (const py of python === undefined ? ['python3', '/usr/bin/python3'] : [python]) {
    last = await runWith(py, vectors, queries, d, k);
    if (last.ok) return last;
  }
  return last;
}

async function runWith(
  python: string,
  vectors: Float32Array,
  queries: Float32Array,
  d: number,
  k: number,
): Promise<SklearnResult> {
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-bench-'));
  try {
    const xs = join(dir, 'x.npy');
    const qs = join(dir, 'q.npy');
    await writeFile(xs, npyBytes(vectors, vectors.length / d, d));
    await writeFile(qs, npyBytes(queries, queries.length / d, d));
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }>((done) => {
      const child = spawn(python, ['-c', SCRIPT, xs, qs, String(k)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      child.on('error', (error) => done({ code: null, stdout, stderr, error }));
      child.on('close', (code) => done({ code, stdout, stderr }));
    });
    if (out.error) return { ok: false, reason: `${python} not found` };
    if (out.code !== 0) return { ok: false, reason: `${python} failed: ${out.stderr.trim().split('\n').at(-1) ?? ''}` };
    const r = JSON.parse(out.stdout) as { missing?: string; times?: number[]; ids?: number[][] };
    if (r.missing !== undefined || !r.times || !r.ids)
      return { ok: false, reason: `scikit-learn not installed (${r.missing ?? 'no output'})` };
    return { ok: true, timesMs: r.times, ids: r.ids };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
