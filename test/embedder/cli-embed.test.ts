/**
 * `lookalike embed` as a user runs it: a real child process, real files, untrained models.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { runCli } from '../helpers/process.js';
import { blocky, fromRaw } from './fixtures.js';

const dir = join(TEST_TMP_DIR, `cli-embed-${process.pid}`);
let modelsDir: string;

/** `lookalike --models <modelsDir> ...args`. */
const lookalike = (args: string[]) => runCli(['--models', modelsDir, ...args]);

before(async () => {
  modelsDir = await ensureUntrainedModels();
  await mkdir(dir, { recursive: true });
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('GIVEN two images and a text file THEN it prints two unit-norm 2048-d JSON lines, names the bad file and exits 1', async () => {
  const a = join(dir, 'a.jpg');
  const b = join(dir, 'b.png');
  const bad = join(dir, 'notes.jpg'); // the name lies: it is text
  await writeFile(
    a,
    await fromRaw(blocky(120, 160, 8))
      .jpeg()
      .toBuffer(),
  );
  await writeFile(
    b,
    await fromRaw(blocky(90, 60, 6, 3))
      .png()
      .toBuffer(),
  );
  await writeFile(bad, 'shopping list: socks, shirt\n');

  const { code, stdout, stderr } = await lookalike(['embed', a, bad, b]);
  assert.equal(code, 1, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  const vectors = lines.map((l) => JSON.parse(l) as number[]);
  for (const v of vectors) {
    assert.ok(Array.isArray(v));
    assert.equal(v.length, 2048);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-5);
  }
  assert.notDeepEqual(vectors[0], vectors[1]);
  const errLines = stderr.trim().split('\n');
  assert.ok(
    errLines.includes(
      `${bad}: UNSUPPORTED_IMAGE: That file isn't a photo I can read. Please send a JPEG, PNG, WebP, GIF, AVIF, HEIC or TIFF image.`,
    ),
    stderr,
  );
  assert.equal(errLines.filter((l) => /untrained/i.test(l)).length, 1, `one untrained warning line:\n${stderr}`);
});

test('GIVEN --runtime tfjs --resize pad --no-exif THEN it embeds with those settings and exits 0', async () => {
  const img = join(dir, 'wide.jpg');
  await writeFile(
    img,
    await fromRaw(blocky(300, 100, 10))
      .jpeg()
      .toBuffer(),
  );
  const onnxStretch = await lookalike(['embed', img]);
  const tfjsPad = await lookalike(['embed', '--runtime', 'tfjs', '--resize', 'pad', '--no-exif', img]);
  const onnxPad = await lookalike(['embed', '--resize', 'pad', img]);
  for (const r of [onnxStretch, tfjsPad, onnxPad]) assert.equal(r.code, 0, r.stderr);
  const [s, tp, op] = [onnxStretch, tfjsPad, onnxPad].map((r) => JSON.parse(r.stdout) as number[]);
  let padDiff = 0;
  let modeDiff = 0;
  for (let i = 0; i < 2048; i++) {
    padDiff = Math.max(padDiff, Math.abs((tp?.[i] ?? 0) - (op?.[i] ?? 0)));
    modeDiff = Math.max(modeDiff, Math.abs((s?.[i] ?? 0) - (op?.[i] ?? 0)));
  }
  assert.ok(padDiff <= 1e-4, `tfjs vs onnx in pad mode: ${padDiff}`);
  assert.ok(modeDiff > 1e-3, 'pad and stretch give different vectors');
});

test('GIVEN no image or a bad option THEN it prints usage and exits 2', async () => {
  const none = await lookalike(['embed']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Usage: lookalike embed IMAGE/);
  const bad = await lookalike(['embed', '--runtime', 'cuda', 'x.jpg']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown runtime "cuda"/);
});
