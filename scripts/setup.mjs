#!/usr/bin/env node
// `npm run setup`: makes a fresh clone ready for the CLI and the tests. Idempotent.
//   1. system packages (Debian/Ubuntu, as root): FAISS + OpenBLAS for the native index,
//      DejaVu fonts for collage labels, heif-enc for the tests' HEIC fixtures, PostgreSQL and Redis
//      for the scale-out tests, Chromium for the browser test (skip with --no-browser); optionally
//      python3-sklearn for `lookalike bench search`
//   2. faiss-node built from its npm source against the system FAISS (scripts/setup-faiss.mjs)
//   3. TypeScript build of every workspace (turbo)
//   4. model files: the official Keras weights when reachable, otherwise untrained weights
// Options: --no-browser  --models DIR (or LOOKALIKE_MODELS_DIR)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const withBrowser = !args.includes('--no-browser');
const modelsFlag = args.indexOf('--models');
const modelsDir = resolve(
  root,
  modelsFlag >= 0 ? args[modelsFlag + 1] : (process.env.LOOKALIKE_MODELS_DIR ?? 'models'),
);

function step(title) {
  console.log(`\n▶ ${title}`);
}
function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', cwd: root, ...opts });
  return r.status ?? 1;
}
function must(cmd, cmdArgs, what) {
  const code = run(cmd, cmdArgs);
  if (code !== 0) {
    console.error(`\n✖ setup failed while ${what} (exit ${code}).`);
    process.exit(code);
  }
}
function dpkgInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format string, not a JS template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  console.error(`lookalike needs Node.js 20 or newer (this is ${process.versions.node}).`);
  process.exit(1);
}

step('System packages');
const wanted = [
  'libfaiss-dev',
  'libopenblas-dev',
  'fonts-dejavu-core',
  // heif-enc: the tests make their HEIC fixtures with it (decoding in the product is libheif-js).
  'libheif-examples',
  // Private PostgreSQL and Redis servers for the scale-out tests (the product needs them only
  // when DATABASE_URL / REDIS_URL are set).
  'postgresql',
  'redis-server',
  ...(withBrowser ? ['chromium'] : []),
];
const hasApt =
  spawnSync('sh', ['-c', 'command -v apt-get && command -v dpkg-query'], { encoding: 'utf8' }).status === 0;
if (!hasApt) {
  console.log(`No apt-get here. Install the equivalents of: ${wanted.join(' ')} (then re-run npm run setup).`);
} else {
  const missing = wanted.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) {
    console.log(`already installed: ${wanted.join(', ')}`);
  } else if (process.getuid?.() !== 0) {
    console.error(
      `Missing system packages. Run:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}\nthen re-run: npm run setup`,
    );
    process.exit(1);
  } else {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let code = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
    if (code !== 0) {
      must('apt-get', ['update', '-q'], 'updating apt lists');
      code = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { env });
    }
    if (code !== 0) {
      console.error(`✖ apt-get could not install: ${missing.join(' ')}`);
      process.exit(code);
    }
    stopServicesWeInstalled(missing);
  }
}

/**
 * Debian starts the system-wide PostgreSQL (5432) and Redis (6379, no password) it installs. The
 * tests start private servers and the product needs neither unless DATABASE_URL / REDIS_URL are
 * set, so the services this run installed are stopped and disabled again (one already on the
 * machine before setup is left alone).
 */
function stopServicesWeInstalled(installed) {
  const services = { postgresql: 'postgresql', 'redis-server': 'redis-server' };
  for (const pkg of installed.filter((p) => p in services)) {
    const svc = services[pkg];
    const hasSystemd = spawnSync('sh', ['-c', 'command -v systemctl && [ -d /run/systemd/system ]']).status === 0;
    const code = hasSystemd
      ? run('systemctl', ['disable', '--now', svc], { stdio: 'ignore' })
      : run('service', [svc, 'stop'], { stdio: 'ignore' });
    console.log(
      `stopped the system-wide ${svc} service that ${pkg} starts${code === 0 ? '' : ' (it was not running)'}`,
    );
  }
}

// Optional: scikit-learn for `lookalike bench search`'s sklearn row (the seed's own search). A
// failure here never fails setup; the row then says "not available".
if (hasApt && process.getuid?.() === 0 && !dpkgInstalled('python3-sklearn')) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const code = run('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'python3-sklearn'], { env });
  console.log(
    code === 0
      ? 'installed python3-sklearn (for lookalike bench search)'
      : 'python3-sklearn could not be installed (optional: the bench search sklearn row will say "not available")',
  );
}

step('Native FAISS binding (faiss-node)');
must(process.execPath, [join(root, 'scripts/setup-faiss.mjs')], 'building faiss-node');

step('Build (TypeScript, all workspaces)');
must(
  process.execPath,
  [join(root, 'node_modules/turbo/bin/turbo'), 'run', 'build', '--output-logs=errors-only'],
  'building',
);

step(`Model files in ${modelsDir}`);
const cli = join(root, 'apps/cli/bin/lookalike.js');
const modelEnv = { ...process.env, LOOKALIKE_MODELS_DIR: modelsDir };
if (existsSync(join(modelsDir, 'manifest.json'))) {
  run(process.execPath, [cli, 'models', 'info'], { env: modelEnv });
} else {
  console.log('No model files yet: trying the official Keras ImageNet weights…');
  const fetched = run(process.execPath, [cli, 'models', 'fetch'], { env: modelEnv });
  if (fetched !== 0) {
    console.log(
      '\nThe official weights could not be downloaded (offline?). Writing UNTRAINED weights so everything runs;',
    );
    console.log(
      'results will not be meaningful until you run: npx lookalike models fetch  (or: models fetch --from FILE.h5)',
    );
    must(process.execPath, [cli, 'models', 'init', '--untrained'], 'writing untrained weights');
  }
}
console.log('\n✔ setup complete. Next: npm start   (or: npx lookalike --help)');
