/**
 * Temp files a crashed save left in the data dir are removed when the catalog opens its index:
 * a real catalog (SQLite, FAISS, untrained ONNX weights), then temp files written by a process
 * that has exited and by one that is still running, then the catalog opened again.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, it } from 'node:test';
import { openCatalog } from '@lookalike/catalog';
import { type Logger, silentLogger } from '@lookalike/core';
import { createEmbedder, type ImageEmbedder } from '@lookalike/embedder';
import { makeTestCatalog, type TestCatalog } from '../helpers/catalog.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-stale-temps-${process.pid}`);
const dataDir = join(ROOT, 'data');
let embedder: ImageEmbedder;
let cat: TestCatalog;
const children: ChildProcess[] = [];

before(async () => {
  embedder = await createEmbedder({ modelsDir: await ensureUntrainedModels(), batchSize: 4 });
  cat = await makeTestCatalog(join(ROOT, 'catalog'), { count: 6 });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await embedder?.dispose();
  await rm(ROOT, { recursive: true, force: true });
});

/**
 * A child process that starts writing copies of the index and sidecar under their temp names
 * (its own pid in them, as a save does) and then exits or stays alive. Resolves to its pid.
 */
async function writer(stay: boolean): Promise<number> {
  const script = `const fs = require('node:fs'); const path = require('node:path');
const dir = ${JSON.stringify(dataDir)};
const index = fs.readFileSync(path.join(dir, 'index.faiss'));
fs.writeFileSync(path.join(dir, 'index.faiss.tmp-' + process.pid + '-5eed0001'), index.subarray(0, index.length >> 1));
fs.writeFileSync(path.join(dir, 'index.json.tmp-' + process.pid + '-5eed0002'), '{"generation"');
fs.writeFileSync(path.join(dir, 'index.json.' + process.pid + '.tmp'), '{"gen');
console.log('written');
${stay ? 'setInterval(() => {}, 1000);' : ''}`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`writer exited with ${code}`))));
  });
  if (!stay && child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
  return child.pid as number;
}

/** Records info lines (the catalog's logger is a child of it). */
function infoLines(): { logger: Logger; lines: { obj: unknown; msg: string | undefined }[] } {
  const lines: { obj: unknown; msg: string | undefined }[] = [];
  const logger: Logger = {
    ...silentLogger,
    child: () => logger,
    info: (obj, msg) => void lines.push({ obj, msg }),
  };
  return { logger, lines };
}

it('GIVEN temp files of a dead save and of a running one in the data dir THEN opening the catalog removes only the dead one’s, and the catalog answers', async () => {
  const first = await openCatalog({ dataDir, imagesDir: cat.imagesDir, labelsPath: cat.labelsPath, embedder });
  const summary = await first.reindex();
  assert.equal(summary.added, 6);
  await first.close();

  const dead = await writer(false);
  const live = await writer(true);
  const deadTemps = [`index.faiss.tmp-${dead}-5eed0001`, `index.json.tmp-${dead}-5eed0002`, `index.json.${dead}.tmp`];
  const liveTemps = [`index.faiss.tmp-${live}-5eed0001`, `index.json.tmp-${live}-5eed0002`, `index.json.${live}.tmp`];
  for (const f of [...deadTemps, ...liveTemps]) assert.ok(readdirSync(dataDir).includes(f), f);

  const { logger, lines } = infoLines();
  const reopened = await openCatalog({ dataDir, embedder, logger });
  try {
    const names = readdirSync(dataDir);
    for (const f of deadTemps) assert.ok(!names.includes(f), `${f} removed`);
    for (const f of liveTemps) assert.ok(names.includes(f), `${f} of a running writer kept`);
    const line = lines.find((l) => l.msg === 'removed temp files left by an interrupted save');
    assert.ok(line, 'the removal is logged');
    assert.deepEqual([...(line.obj as { removed: string[] }).removed].sort(), [...deadTemps].sort());
    assert.equal(reopened.size(), 6, 'the saved index loaded as before');
    const query = reopened.vectorOf(cat.items[2]!.id);
    assert.ok(query);
    const top = reopened.search(query, { k: 1, excludeDuplicates: false })[0];
    assert.equal(top?.id, cat.items[2]!.id);
  } finally {
    await reopened.close();
  }
});
