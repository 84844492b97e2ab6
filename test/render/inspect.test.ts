/**
 * Header-only inspection with the configured limits: the one decision on what is decodable (core's
 * `decodableKind`), bombs refused from the header, and sentences that quote the limits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { imageTooLargeSentence, USER_MESSAGES } from '@lookalike/core';
import { createImageInspector } from '@lookalike/render';
import sharp from 'sharp';
import { rejectsWith } from '../helpers/assert.js';

const heic = (): Buffer => {
  const body = Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1');
  const size = Buffer.alloc(4);
  size.writeUInt32BE(4 + body.length);
  return Buffer.concat([size, body, Buffer.alloc(64)]);
};

describe('image inspector', () => {
  const limits = { maxBytes: 64 * 1024, maxPixels: 1_000_000 };
  const inspector = createImageInspector(limits);

  test('GIVEN a JPEG within the limits THEN its kind and dimensions', async () => {
    const jpeg = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#123456' } })
      .jpeg()
      .toBuffer();
    assert.deepEqual(await inspector.inspect(jpeg), { kind: 'jpeg', width: 40, height: 30, pages: 1 });
  });

  test('GIVEN a HEIC container with no image in it THEN IMAGE_DECODE_FAILED (real HEIC photos: heic.test.ts)', async () => {
    const err = await rejectsWith(inspector.inspect(heic()), 'IMAGE_DECODE_FAILED');
    assert.equal(err.details.kind, 'heic');
    assert.equal(err.userMessage, USER_MESSAGES.IMAGE_DECODE_FAILED);
  });

  test('GIVEN more pixels than allowed THEN IMAGE_TOO_LARGE quoting the configured limits', async () => {
    const png = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#fff' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    assert.ok(png.length < limits.maxBytes, 'small file, many pixels');
    const err = await rejectsWith(inspector.inspect(png), 'IMAGE_TOO_LARGE');
    assert.equal(err.userMessage, imageTooLargeSentence(limits));
    assert.match(err.userMessage, /under 64 kB and 1 megapixel\./);
  });

  test('GIVEN empty bytes or text THEN UNSUPPORTED_IMAGE', async () => {
    await rejectsWith(inspector.inspect(new Uint8Array(0)), 'UNSUPPORTED_IMAGE');
    await rejectsWith(inspector.inspect(Buffer.from('hello, not a photo')), 'UNSUPPORTED_IMAGE');
  });
});
