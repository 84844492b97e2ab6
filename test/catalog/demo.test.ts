import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { generateDemoCatalog, parseLabels } from '@lookalike/catalog';
import sharp from 'sharp';
import { TEST_TMP_DIR } from '../helpers/models.ts';

const ROOT = join(TEST_TMP_DIR, `catalog-demo-${process.pid}`);
after(() => rm(ROOT, { recursive: true, force: true }));

it('GIVEN the demo generator THEN it draws 400 garment images with a matching styles.csv labels file', async () => {
  const demo = await generateDemoCatalog(join(ROOT, 'a'), { seed: 3 });
  const files = (await readdir(demo.imagesDir)).sort();
  assert.equal(files.length, 400);
  const labels = parseLabels(await readFile(demo.labelsPath, 'utf8'));
  assert.deepEqual(labels.columns, [
    'id',
    'gender',
    'masterCategory',
    'subCategory',
    'articleType',
    'baseColour',
    'season',
    'year',
    'usage',
    'productDisplayName',
  ]);
  assert.equal(labels.byId.size, 400);
  const stems = new Set(files.map((f) => f.replace(/\.(jpg|png)$/, '')));
  assert.deepEqual(stems, new Set(labels.byId.keys()));
  const types = new Set([...labels.byId.values()].map((m) => m.articleType));
  assert.deepEqual(
    [...types].sort(),
    ['Casual Shoes', 'Caps', 'Dresses', 'Handbags', 'Shirts', 'Skirts', 'Trousers', 'Tshirts'].sort(),
  );
  assert.ok(new Set([...labels.byId.values()].map((m) => m.baseColour)).size >= 10, 'varied colours');
  assert.ok(new Set(demo.items.map((i) => i.pattern)).size === 4, 'solid, stripes, dots, checks');
  for (const m of labels.byId.values()) {
    for (const col of ['gender', 'masterCategory', 'subCategory', 'season', 'year', 'usage', 'productDisplayName']) {
      assert.ok(m[col], `${col} present`);
    }
  }
  // Real decodable images, product-shot style: white corners, coloured middle.
  for (const f of [files[0]!, files.find((x) => x.endsWith('.png'))!]) {
    const { data, info } = await sharp(join(demo.imagesDir, f))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    assert.ok(info.width >= 200 && info.height > info.width);
    assert.ok(data[0]! > 235 && data[1]! > 235 && data[2]! > 235, 'white background');
  }
});

it('GIVEN the same seed THEN the same catalog is drawn; another seed draws another', async () => {
  const a = await generateDemoCatalog(join(ROOT, 's1'), { count: 12, seed: 9 });
  const b = await generateDemoCatalog(join(ROOT, 's2'), { count: 12, seed: 9 });
  const c = await generateDemoCatalog(join(ROOT, 's3'), { count: 12, seed: 10 });
  assert.equal(await readFile(a.labelsPath, 'utf8'), await readFile(b.labelsPath, 'utf8'));
  for (const it of a.items) {
    assert.ok((await readFile(join(a.imagesDir, it.file))).equals(await readFile(join(b.imagesDir, it.file))));
  }
  assert.notEqual(await readFile(a.labelsPath, 'utf8'), await readFile(c.labelsPath, 'utf8'));
});
