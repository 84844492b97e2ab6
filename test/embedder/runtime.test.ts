/**
 * createEmbedder on the real ONNX Runtime (in its worker threads) with the shared untrained
 * ResNet50: unit norm, orientation, first GIF frame, error codes across the thread boundary,
 * concurrent callers, batching, model checks.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createEmbedder, type ImageEmbedder, UNTRAINED_LOG_LINE } from '@lookalike/embedder';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.js';
import { recordingLogger } from '../helpers/recording-logger.js';
import { rng } from '../helpers/rng.js';
import { blocky, bombPng, fromRaw, maxAbsDiff, raw, rotateCcw } from './fixtures.js';

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

let modelsDir: string;
let embedder: ImageEmbedder;
const log = recordingLogger();

before(async () => {
  modelsDir = await ensureUntrainedModels();
  embedder = await createEmbedder({ modelsDir, logger: log });
});

after(async () => {
  await embedder?.dispose();
});

describe('onnx embedder', () => {
  test('GIVEN untrained weights THEN it describes them and logs exactly one warn line', () => {
    assert.equal(embedder.dimension, 2048);
    assert.equal(embedder.runtime, 'onnx');
    assert.equal(embedder.weights.untrained, true);
    assert.equal(embedder.weights.source, 'untrained');
    assert.match(embedder.weights.md5, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      log.lines().filter((l) => l.startsWith('warn')),
      [`warn ${UNTRAINED_LOG_LINE}`],
    );
  });

  test('GIVEN several images THEN each vector has 2048 dims and unit norm', async () => {
    const r = rng(7);
    const images = await Promise.all(
      [
        [50, 80],
        [224, 224],
        [640, 360],
      ].map(([w, h]) =>
        fromRaw(raw(w ?? 1, h ?? 1, 3, () => [r() * 255, r() * 255, r() * 255]))
          .jpeg()
          .toBuffer(),
      ),
    );
    const vectors = await embedder.embed(images);
    assert.equal(vectors.length, 3);
    for (const v of vectors) {
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, 2048);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
    }
    // Different images, different vectors.
    assert.ok(maxAbsDiff(vectors[0] as Float32Array, vectors[1] as Float32Array) > 1e-3);
  });

  test('GIVEN an EXIF-rotated JPEG THEN it embeds like the upright one; with exif:false it differs', async () => {
    const upright = blocky(96, 64, 16);
    const opts = { quality: 90, chromaSubsampling: '4:4:4' } as const;
    const uprightJpeg = await fromRaw(upright).jpeg(opts).toBuffer();
    const rotatedJpeg = await fromRaw(rotateCcw(upright)).jpeg(opts).withMetadata({ orientation: 6 }).toBuffer();
    const [a, b] = await embedder.embed([uprightJpeg, rotatedJpeg]);
    assert.ok(maxAbsDiff(a as Float32Array, b as Float32Array) < 1e-6);

    const noExif = await createEmbedder({ modelsDir, exif: false });
    try {
      const [c, d] = await noExif.embed([uprightJpeg, rotatedJpeg]);
      assert.ok(maxAbsDiff(a as Float32Array, c as Float32Array) < 1e-6, 'upright image is unaffected by exif:false');
      assert.ok(maxAbsDiff(c as Float32Array, d as Float32Array) > 1e-3, 'the sideways pixels give another vector');
    } finally {
      await noExif.dispose();
    }
  });

  test('GIVEN an animated GIF THEN its vector equals the first frame as PNG', async () => {
    const f1 = blocky(80, 60, 10, 1);
    const f2 = blocky(80, 60, 5, 4);
    const gif = await sharp(Buffer.concat([f1.data, f2.data]), {
      raw: { width: 80, height: 120, channels: 3, pageHeight: 60 },
    })
      .gif({ loop: 0 })
      .toBuffer();
    const [g, p1, p2] = await embedder.embed([
      gif,
      await fromRaw(f1).png().toBuffer(),
      await fromRaw(f2).png().toBuffer(),
    ]);
    assert.ok(maxAbsDiff(g as Float32Array, p1 as Float32Array) < 1e-6);
    assert.ok(maxAbsDiff(g as Float32Array, p2 as Float32Array) > 1e-3);
  });

  test('GIVEN bad inputs THEN each rejects with its code and the embedder keeps working', async () => {
    const good = await fromRaw(blocky(120, 90, 6))
      .jpeg()
      .toBuffer();
    const [reference] = await embedder.embed([good]);
    const png = await fromRaw(blocky(120, 90, 6))
      .png()
      .toBuffer();
    const cases: [string, Uint8Array | string, string][] = [
      ['corrupt', Buffer.concat([good.subarray(0, 4), Buffer.alloc(3000, 0x33)]), 'IMAGE_DECODE_FAILED'],
      ['truncated', good.subarray(0, Math.floor(good.length * 0.6)), 'IMAGE_DECODE_FAILED'],
      ['truncated png', png.subarray(0, Math.floor(png.length * 0.6)), 'IMAGE_DECODE_FAILED'],
      ['zero-byte', new Uint8Array(0), 'UNSUPPORTED_IMAGE'],
      ['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), 'UNSUPPORTED_IMAGE'],
      ['text', Buffer.from('not an image at all'), 'UNSUPPORTED_IMAGE'],
      ['html', Buffer.from('<html><body>404</body></html>'), 'UNSUPPORTED_IMAGE'],
      ['pdf', Buffer.from('%PDF-1.5\n'), 'UNSUPPORTED_IMAGE'],
      ['cut-off jpeg signature', Buffer.from([0xff, 0xd8]), 'UNSUPPORTED_IMAGE'],
      ['cut-off png signature', Buffer.from([0x89, 0x50, 0x4e]), 'UNSUPPORTED_IMAGE'],
      ['bomb', await bombPng(), 'IMAGE_TOO_LARGE'],
    ];
    for (const [, input, code] of cases) await rejectsWith(embedder.embed([input]), code);

    const small = await createEmbedder({ modelsDir, maxBytes: 2000, maxPixels: 10_000 });
    try {
      await rejectsWith(small.embed([good]), 'IMAGE_TOO_LARGE'); // bytes
      const wide = await sharp({ create: { width: 200, height: 60, channels: 3, background: '#445566' } })
        .png()
        .toBuffer();
      assert.ok(wide.length < 2000);
      await rejectsWith(small.embed([wide]), 'IMAGE_TOO_LARGE'); // pixels
    } finally {
      await small.dispose();
    }

    const [again] = await embedder.embed([good]);
    assert.ok(maxAbsDiff(reference as Float32Array, again as Float32Array) < 1e-6);
  });

  test('GIVEN 20 concurrent callers with one bad image THEN only that caller rejects and the rest equal sequential results', async () => {
    const r = rng(99);
    const images = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fromRaw(raw(60 + i * 7, 90 - i, 3, () => [r() * 255, (i * 13) % 255, r() * 255]))
          .png()
          .toBuffer(),
      ),
    );
    const bad = 13;
    const inputs: Uint8Array[] = images.map((img, i) => (i === bad ? Buffer.from('<svg/>') : img));

    const sequential: (Float32Array | undefined)[] = [];
    for (let i = 0; i < inputs.length; i++) {
      sequential.push(i === bad ? undefined : (await embedder.embed([inputs[i] as Uint8Array]))[0]);
    }
    const batchesBefore = embedder.stats.batches;
    const settled = await Promise.allSettled(inputs.map((img) => embedder.embed([img])));
    const batches = embedder.stats.batches - batchesBefore;

    settled.forEach((s, i) => {
      if (i === bad) {
        assert.equal(s.status, 'rejected');
        assert.equal((s as PromiseRejectedResult).reason.code, 'UNSUPPORTED_IMAGE');
      } else {
        assert.equal(s.status, 'fulfilled', `caller ${i}`);
        const v = (s as PromiseFulfilledResult<Float32Array[]>).value[0] as Float32Array;
        assert.ok(maxAbsDiff(v, sequential[i] as Float32Array) < 1e-5, `caller ${i}`);
      }
    });
    // 19 good images were coalesced into fewer, larger batches (max 8).
    assert.ok(batches < 19, `ran ${batches} batches for 19 images`);
    assert.ok(embedder.stats.maxBatch > 1 && embedder.stats.maxBatch <= 8, `max batch ${embedder.stats.maxBatch}`);
  });

  test('GIVEN one bad input in a multi-image embed() call THEN the call rejects with that code', async () => {
    const good = await fromRaw(blocky(50, 50, 5))
      .png()
      .toBuffer();
    await rejectsWith(embedder.embed([good, Buffer.from('plain text'), good]), 'UNSUPPORTED_IMAGE');
  });
});

describe('model loading', () => {
  const dir = join(TEST_TMP_DIR, `embedder-badmodels-${process.pid}`);
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('GIVEN a model file whose sha256 differs from the manifest THEN MODEL_INVALID', async () => {
    await mkdir(dir, { recursive: true });
    const manifest = JSON.parse(await readFile(join(modelsDir, 'manifest.json'), 'utf8'));
    await symlink(join(modelsDir, manifest.files.onnx.path), join(dir, manifest.files.onnx.path));
    await symlink(join(modelsDir, 'tfjs'), join(dir, 'tfjs'));
    manifest.files.onnx.sha256 = 'f'.repeat(64);
    await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await rejectsWith(createEmbedder({ modelsDir: dir }), 'MODEL_INVALID');
  });

  test('GIVEN a models dir without a manifest THEN MODEL_NOT_FOUND', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    await rejectsWith(createEmbedder({ modelsDir: empty }), 'MODEL_NOT_FOUND');
  });

  test('GIVEN a file that is not an ONNX model THEN MODEL_INVALID', async () => {
    const broken = join(dir, 'broken');
    await mkdir(broken, { recursive: true });
    const manifest = JSON.parse(await readFile(join(modelsDir, 'manifest.json'), 'utf8'));
    const junk = Buffer.from('this is not a protobuf model');
    await writeFile(join(broken, manifest.files.onnx.path), junk);
    await symlink(join(modelsDir, 'tfjs'), join(broken, 'tfjs'));
    const { createHash } = await import('node:crypto');
    manifest.files.onnx.sha256 = createHash('sha256').update(junk).digest('hex');
    await writeFile(join(broken, 'manifest.json'), JSON.stringify(manifest));
    await rejectsWith(createEmbedder({ modelsDir: broken }), 'MODEL_INVALID');
  });

  test('GIVEN a disposed embedder THEN calls reject instead of hanging', async () => {
    const e = await createEmbedder({ modelsDir, warmup: false });
    await e.dispose();
    await rejectsWith(
      e.embed([
        await fromRaw(blocky(20, 20, 4))
          .png()
          .toBuffer(),
      ]),
      'INTERNAL',
    );
  });
});
