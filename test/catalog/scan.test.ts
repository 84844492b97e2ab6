/**
 * scanImages: which files of a catalog folder become items. Real files in a temp folder.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { scanImages } from '@lookalike/catalog';
import { TEST_TMP_DIR } from '../helpers/models.js';

describe('scanImages', () => {
  let dir: string;

  before(async () => {
    await mkdir(TEST_TMP_DIR, { recursive: true });
    dir = await mkdtemp(join(TEST_TMP_DIR, 'scan-'));
    await mkdir(join(dir, 'women'));
    await mkdir(join(dir, '.hidden'));
    for (const name of ['a.jpg', 'b.PNG', 'c.webp', 'd.tif', 'e.TIFF', 'f.heic', 'g.heif', 'women/h.avif']) {
      await writeFile(join(dir, name), 'x');
    }
    for (const name of ['notes.txt', 'labels.csv', '.hidden/i.jpg', '.j.jpg']) await writeFile(join(dir, name), 'x');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('GIVEN photos of every decodable format, other files and hidden ones THEN exactly the photos are found, case-insensitively', async () => {
    const scan = await scanImages(dir);
    assert.deepEqual(scan.files.map((f) => f.relPath).sort(), [
      'a.jpg',
      'b.PNG',
      'c.webp',
      'd.tif',
      'e.TIFF',
      'f.heic',
      'g.heif',
      'women/h.avif',
    ]);
    assert.deepEqual(scan.unreadable, []);
  });
});
