#!/usr/bin/env node
// Makes `require('faiss-node')` work on this machine, with the lookalike patch (HNSW efSearch,
// reconstructBatch, Float32Array add/search, O(1) flat removal, worker-thread safety and index
// handles passed between threads, OpenMP thread count, copy-free buffers). Idempotent: does nothing when the patched build is in place.
//
// Why: faiss-node 0.5.1 is an optional dependency of @lookalike/index. Its own install script
// downloads a prebuilt binary from GitHub and then clones FAISS from GitHub; where GitHub is
// unreachable both fail and npm silently drops the package, so `npm ci` never fails on it.
// This script then builds faiss-node's npm source against the system FAISS instead:
//   1. system packages: libfaiss-dev + libopenblas-dev (+ g++, make, python3, patch) via apt-get
//      when root, else prints the exact command and exits 1;
//   2. `npm pack faiss-node@0.5.1` (npm registry or npm cache) into a temp dir and extract it;
//   3. apply packages/index/native/faiss-node-lookalike.patch, add the committed binding.gyp
//      (the package ships only a CMakeLists.txt that expects a FAISS checkout) and the one-line
//      compat header (faiss::idx_t is a FAISS 1.7.4 name; Debian 12 has 1.7.3);
//   4. build with the node-gyp bundled with npm against the installed Node headers;
//   5. move the result to node_modules/faiss-node and run an add/search smoke check.
//
// Usage: node scripts/setup-faiss.mjs [--force]
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '0.5.1';
const root = fileURLToPath(new URL('..', import.meta.url));
const indexPkgDir = join(root, 'packages', 'index');
const nativeDir = join(indexPkgDir, 'native');
const targetDir = join(root, 'node_modules', 'faiss-node');
const stampName = '.lookalike-build.json';
const force = process.argv.includes('--force');
const APT_PACKAGES = ['libfaiss-dev', 'libopenblas-dev'];
const TOOLS = { 'g++': 'g++', make: 'make', python3: 'python3', patch: 'patch', tar: 'tar' };

function log(msg) {
  process.stderr.write(`[setup-faiss] ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`[setup-faiss] ERROR: ${msg}\n`);
  process.exit(1);
}

/** Identity of what we build: change any input and the build is redone. */
function fingerprint() {
  const h = createHash('sha256');
  h.update(`faiss-node@${VERSION}\0napi8\0${process.platform}-${process.arch}\0`);
  for (const f of ['faiss-node-lookalike.patch', 'binding.gyp', 'faiss-compat.h', 'lookalike-search.h'])
    h.update(readFileSync(join(nativeDir, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Loads faiss-node in a child process (a broken binary must not take this script down) and runs
 * a tiny add/search check on a flat and an HNSW index. Returns { ok, patched, detail }.
 */
function probe() {
  const code = `
    const f = require('faiss-node');
    const d = 8, n = 50, xs = [];
    for (let i = 0; i < n * d; i++) xs.push(Math.sin(i * 12.9898) * 0.5);
    const flat = new f.IndexFlatL2(d); flat.add(xs);
    const r = flat.search(xs.slice(7 * d, 8 * d), 3);
    if (flat.ntotal() !== n || r.labels[0] !== 7 || r.distances[0] > 1e-6) throw new Error('flat search returned ' + JSON.stringify(r));
    const patched = ['setEfSearch', 'reconstructBatch', 'addFloat32', 'searchFloat32', 'removeSwapLast', 'exportHandle', 'reserve', 'searchScan', 'rawScan', 'kindName']
      .every((m) => typeof f.Index.prototype[m] === 'function') &&
      typeof f.Index.fromHandle === 'function' && typeof f.setNumThreads === 'function';
    if (patched) {
      const h = f.Index.fromFactory(d, 'HNSW32,Flat'); h.add(xs); h.setEfSearch(40);
      if (h.getEfSearch() !== 40) throw new Error('setEfSearch did not stick');
      const q = h.search(xs.slice(11 * d, 12 * d), 1);
      if (q.labels[0] !== 11) throw new Error('hnsw search returned ' + JSON.stringify(q));
      const back = h.reconstructBatch(11, 1);
      if (!(back instanceof Float32Array) || Math.abs(back[3] - xs[11 * d + 3]) > 1e-6) throw new Error('reconstructBatch mismatch');
      f.setNumThreads(1);
      if (f.getNumThreads() !== 1) throw new Error('setNumThreads did not stick');
      const t = f.Index.fromFactory(d, 'Flat'); t.reserve(2 * n); t.addFloat32(Float32Array.from(xs)); h.reserve(2 * n);
      const s = t.searchFloat32(Float32Array.from(xs.slice(5 * d, 6 * d)), 2);
      if (s.labels[0] !== 5 || !(s.distances instanceof Float32Array)) throw new Error('searchFloat32 returned ' + JSON.stringify(s));
      t.removeSwapLast([0, 5]);
      if (t.ntotal() !== n - 2 || t.searchFloat32(Float32Array.from(xs.slice(0, d)), 1).labels[0] === 0) throw new Error('removeSwapLast failed');
      const e = t.searchScan(Float32Array.from(xs.slice(9 * d, 10 * d)), 2);
      const ref = t.searchFloat32(Float32Array.from(xs.slice(9 * d, 10 * d)), 2);
      if (e.labels[0] !== ref.labels[0] || e.labels[1] !== ref.labels[1]) throw new Error('searchScan returned ' + JSON.stringify(e));
      const c = f.Index.newCompact(d, 8); c.addFloat32(Float32Array.from(xs));
      if (c.kindName() !== 'compact8' || c.searchScan(Float32Array.from(xs.slice(4 * d, 5 * d)), 1).labels[0] !== 4) throw new Error('compact search failed');
      if (f.Index.fromBuffer(c.toBuffer()).ntotal() !== n) throw new Error('compact toBuffer/fromBuffer failed');
      // The addon must work in a worker thread and hand an index back to the main thread.
      const { Worker } = require('node:worker_threads');
      const w = new Worker(
        "const f = require(" + JSON.stringify(require.resolve('faiss-node')) + ");" +
        "const i = f.Index.fromFactory(" + d + ", 'HNSW32,Flat'); i.add(" + JSON.stringify(xs) + ");" +
        "require('node:worker_threads').parentPort.postMessage(i.exportHandle());",
        { eval: true },
      );
      w.once('error', (e) => { throw e; });
      w.once('message', async (h) => {
        await w.terminate();
        const back = f.Index.fromHandle(h);
        const r2 = back.search(xs.slice(9 * d, 10 * d), 1);
        if (back.ntotal() !== n || r2.labels[0] !== 9) throw new Error('index from a worker: ' + JSON.stringify(r2));
        const again = f.Index.fromBuffer(back.toBuffer());
        if (again.ntotal() !== n) throw new Error('fromBuffer after a worker failed');
        process.stdout.write(JSON.stringify({ patched }));
      });
    } else {
      process.stdout.write(JSON.stringify({ patched }));
    }
  `;
  const r = spawnSync(process.execPath, ['-e', code], { cwd: indexPkgDir, encoding: 'utf8' });
  if (r.status !== 0) {
    const lines = `${r.stderr ?? ''}`.trim().split('\n');
    const detail = lines.find((l) => /Error/.test(l)) ?? lines.at(-1) ?? `exit ${r.status} signal ${r.signal}`;
    return { ok: false, patched: false, detail };
  }
  try {
    return { ok: true, patched: JSON.parse(r.stdout).patched === true, detail: '' };
  } catch {
    return { ok: false, patched: false, detail: `unexpected probe output: ${r.stdout}` };
  }
}

function which(cmd) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

function dpkgInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function faissHeaders() {
  return ['/usr/include', '/usr/local/include'].map((d) => join(d, 'faiss', 'Index.h')).find((p) => existsSync(p));
}

function faissVersion() {
  const h = faissHeaders();
  if (!h) return 'unknown';
  const src = readFileSync(h, 'utf8');
  const part = (n) => src.match(new RegExp(`#define FAISS_VERSION_${n} (\\d+)`))?.[1] ?? '?';
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

function ensureSystemPackages() {
  const missingTools = Object.keys(TOOLS).filter((t) => !which(t));
  const hasDpkg = Boolean(which('dpkg-query'));
  const missingLibs = hasDpkg ? APT_PACKAGES.filter((p) => !dpkgInstalled(p)) : faissHeaders() ? [] : APT_PACKAGES;
  const wanted = [...missingLibs, ...missingTools.map((t) => TOOLS[t])];
  if (wanted.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const cmd = `apt-get install -y ${wanted.join(' ')}`;
  if (!which('apt-get')) {
    fail(
      `missing ${wanted.join(', ')}. Install FAISS (headers + static or shared library, e.g. from conda-forge or a source build), OpenBLAS, LAPACK, a C++17 compiler, make, python3 and patch, then re-run: node scripts/setup-faiss.mjs`,
    );
  }
  if (!isRoot) {
    fail(
      `missing system packages: ${wanted.join(' ')}. Run:\n    sudo apt-get update && sudo ${cmd}\nthen: npm run setup`,
    );
  }
  log(`installing ${wanted.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', ...wanted], { stdio: 'inherit', env });
  if (r.status !== 0) {
    log('apt-get install failed; running apt-get update and retrying');
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', ...wanted], { stdio: 'inherit', env });
    if (r.status !== 0) fail(`\`${cmd}\` failed (exit ${r.status}); see the apt output above`);
  }
}

/** npm's own bundled node-gyp (no extra dependency). */
function findNodeGyp() {
  const candidates = [];
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: set by npm when run through `npm run`
  if (process.env.npm_execpath) candidates.push(process.env.npm_execpath);
  const npmBin = which('npm');
  if (npmBin) candidates.push(realpathSync(npmBin));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'));
  for (const c of candidates) {
    try {
      return createRequire(c).resolve('node-gyp/bin/node-gyp.js');
    } catch {}
  }
  fail('cannot find the node-gyp bundled with npm (looked next to npm). Is npm installed with this Node?');
}

/** Node headers already on the machine, so node-gyp never downloads them. */
function findNodeDir() {
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: npm's nodedir setting, when run through npm
  const fromEnv = process.env.npm_config_nodedir;
  if (fromEnv && existsSync(join(fromEnv, 'include', 'node', 'node_api.h'))) return fromEnv;
  const prefix = join(dirname(process.execPath), '..');
  if (
    existsSync(join(prefix, 'include', 'node', 'node_api.h')) &&
    existsSync(join(prefix, 'include', 'node', 'common.gypi'))
  ) {
    return realpathSync(prefix);
  }
  const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8', cwd: root });
  const v = r.stdout?.trim();
  if (r.status === 0 && v && v !== 'undefined' && v !== 'null' && existsSync(join(v, 'include', 'node'))) return v;
  return undefined; // node-gyp will try to download headers for this Node version
}

function resolveFrom(dir, spec) {
  try {
    return createRequire(join(dir, 'package.json')).resolve(spec);
  } catch {
    return undefined;
  }
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.status !== 0) fail(`\`${[cmd, ...args].join(' ')}\` failed (exit ${r.status ?? r.signal})`);
}

function build() {
  for (const dep of ['node-addon-api', 'bindings']) {
    if (!resolveFrom(indexPkgDir, `${dep}/package.json`)) {
      fail(`${dep} is not installed (it is a dependency of @lookalike/index). Run \`npm ci\` (or npm install) first.`);
    }
  }
  const work = mkdtempSync(join(tmpdir(), 'lookalike-faiss-'));
  try {
    log(`fetching faiss-node@${VERSION} source with npm pack`);
    const out = execFileSync(
      'npm',
      ['pack', `faiss-node@${VERSION}`, '--pack-destination', work, '--json', '--silent'],
      {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) fail(`npm pack produced no tarball: ${out}`);
    run('tar', ['xzf', join(work, tgz), '-C', work]);
    const src = join(work, 'package');

    // Stage inside node_modules so node-addon-api resolves and the final rename stays on one filesystem.
    const staging = join(root, 'node_modules', `.faiss-node-build-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    renameOrCopy(src, staging);
    try {
      run('patch', ['-p1', '--forward', '--batch', '-i', join(nativeDir, 'faiss-node-lookalike.patch')], {
        cwd: staging,
      });
      copyFileSync(join(nativeDir, 'binding.gyp'), join(staging, 'binding.gyp'));
      copyFileSync(join(nativeDir, 'faiss-compat.h'), join(staging, 'src', 'lookalike-faiss-compat.h'));
      copyFileSync(join(nativeDir, 'lookalike-search.h'), join(staging, 'src', 'lookalike-search.h'));
      // The package's install script must never run again (it would try GitHub).
      const pj = JSON.parse(readFileSync(join(staging, 'package.json'), 'utf8'));
      pj.scripts = { ...pj.scripts, install: 'node -e "process.exit(0)"' };
      writeFileSync(join(staging, 'package.json'), `${JSON.stringify(pj, null, 2)}\n`);

      const nodeGyp = findNodeGyp();
      const nodedir = findNodeDir();
      const args = [nodeGyp, 'rebuild', '--release', `-j`, 'max'];
      if (nodedir) args.push(`--nodedir=${nodedir}`);
      log(
        `building with node-gyp (${nodedir ? `headers from ${nodedir}` : 'downloading headers'}), FAISS ${faissVersion()}; takes about a minute`,
      );
      run(process.execPath, args, { cwd: staging, env: { ...process.env, npm_config_loglevel: 'warn' } });
      if (!existsSync(join(staging, 'build', 'Release', 'faiss-node.node')))
        fail('node-gyp finished but build/Release/faiss-node.node is missing');
      rmSync(join(staging, 'build', 'Release', 'obj.target'), { recursive: true, force: true });
      writeFileSync(
        join(staging, stampName),
        `${JSON.stringify({ fingerprint: fingerprint(), faiss: faissVersion(), builtAt: new Date().toISOString() })}\n`,
      );

      rmSync(targetDir, { recursive: true, force: true });
      renameSync(staging, targetDir);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function renameOrCopy(from, to) {
  try {
    renameSync(from, to);
  } catch {
    run('cp', ['-a', from, to]);
  }
}

function readStamp() {
  try {
    return JSON.parse(readFileSync(join(targetDir, stampName), 'utf8'));
  } catch {
    return undefined;
  }
}

// ---- main -------------------------------------------------------------------------------
const before = force ? { ok: false, patched: false, detail: '--force' } : probe();
const stamp = readStamp();
if (before.ok && before.patched && (stamp === undefined || stamp.fingerprint === fingerprint())) {
  log(
    `faiss-node ${VERSION} already works (${stamp ? `built from source, FAISS ${stamp.faiss}` : 'prebuilt with the lookalike patch'}); nothing to do`,
  );
  process.exit(0);
}
if (force) log('rebuilding faiss-node from source (--force)');
else if (before.ok && !before.patched)
  log(
    'faiss-node loads but lacks the lookalike patch (setEfSearch, addFloat32, exportHandle, ...); rebuilding from source',
  );
else if (before.ok) log('the patch or build files changed since the last build; rebuilding');
else
  log(
    `faiss-node is not usable (${before.detail || 'not installed'}); building it from source against the system FAISS`,
  );

ensureSystemPackages();
const t0 = Date.now();
build();
const after = probe();
if (!after.ok || !after.patched) {
  fail(
    `faiss-node was built but does not work: ${after.detail || 'patch methods missing'}. Re-run with --force; if it persists, check the compiler output above.`,
  );
}
log(
  `OK: faiss-node ${VERSION} built against system FAISS ${faissVersion()} in ${((Date.now() - t0) / 1000).toFixed(0)} s; add/search smoke check passed`,
);
