/**
 * Shared text renderers, XML escaping and magic-byte sniffing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodableKind,
  formatDuration,
  formatProgressBar,
  formatResultLine,
  formatSimilarity,
  formatSummary,
  itemTitle,
  type SimilarItem,
  sniff,
} from '@lookalike/core';
import { escapeXml, textWidth, truncateToWidth } from '@lookalike/render';
import sharp from 'sharp';

const item = (over: Partial<SimilarItem> = {}): SimilarItem => ({
  rank: 2,
  id: '10017',
  path: '/catalog/images/10017.jpg',
  distance: 0.26,
  similarity: 0.87,
  metadata: { productDisplayName: 'Turtle Check Men Navy Blue Shirt', articleType: 'Shirts', baseColour: 'Navy Blue' },
  ...over,
});

describe('format', () => {
  test('GIVEN a progress event THEN a one-line bar with percent, rate, ETA and phase', () => {
    const line = formatProgressBar({
      phase: 'embedding',
      done: 62,
      total: 100,
      rate: 41.26,
      etaSeconds: 12,
      startedAt: 0,
      searchable: 1000,
      expected: 1038,
    });
    assert.equal(line, '[██████░░░░] 62% · 41.3 img/s · ETA 0:12 · embedding');
    const unknown = formatProgressBar({
      phase: 'scanning',
      done: 0,
      total: 0,
      rate: 0,
      etaSeconds: null,
      startedAt: 0,
      searchable: 0,
      expected: null,
    });
    assert.equal(unknown, '[░░░░░░░░░░] 0% · ETA ? · scanning');
  });

  test('GIVEN a summary THEN the one-line reindex sentence, with failed names when any', () => {
    const base = {
      added: 5,
      updated: 1,
      removed: 2,
      unchanged: 10,
      failed: 0,
      failedFiles: [],
      durationMs: 12_340,
      total: 16,
    };
    assert.equal(formatSummary(base), 'Reindex done in 12.3 s: 5 added, 1 updated, 2 removed, 0 failed');
    const failed = formatSummary({
      ...base,
      failed: 7,
      failedFiles: ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg', 'f.jpg'],
    });
    assert.match(failed, /7 failed \(a\.jpg, b\.jpg, c\.jpg, d\.jpg, e\.jpg and 2 more\)$/);
  });

  test('GIVEN a result THEN rank, name, articleType · colour and similarity', () => {
    assert.equal(formatResultLine(item()), '2. Turtle Check Men Navy Blue Shirt — Shirts · Navy Blue — 87%');
    assert.equal(itemTitle(item({ metadata: {} })), '10017', 'falls back to the file name');
    assert.equal(formatResultLine(item({ metadata: {}, rank: 1, similarity: 1.2 })), '1. 10017 — 100%');
  });

  test('GIVEN similarities THEN percentages clamped, one decimal above 99%', () => {
    assert.equal(formatSimilarity(0.874), '87%');
    assert.equal(formatSimilarity(-0.3), '0%');
    assert.equal(formatSimilarity(0.99876), '99.8%');
    assert.equal(formatSimilarity(1), '100%');
    assert.equal(formatDuration(3725), '1:02:05');
  });

  test('GIVEN XML specials and control characters THEN escaped text librsvg accepts', async () => {
    const nasty = 'Tom & Jerry <b>"quoted"</b> \'single\' \u0001\u0008 ]]> \ud800';
    const escaped = escapeXml(nasty);
    assert.equal(escaped, 'Tom &amp; Jerry &lt;b&gt;&quot;quoted&quot;&lt;/b&gt; &apos;single&apos;  ]]&gt; ');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="30"><text x="0" y="20">${escaped}</text></svg>`;
    const meta = await sharp(Buffer.from(svg))
      .png()
      .toBuffer()
      .then((b) => sharp(b).metadata());
    assert.equal(meta.width, 200);
  });

  test('GIVEN a long name THEN it is cut with an ellipsis to fit', () => {
    const cut = truncateToWidth('Turtle Check Men Navy Blue Shirt With A Very Long Name', 150, 15, true);
    assert.ok(cut.endsWith('…'));
    assert.ok(textWidth(cut, 15, true) <= 150);
    assert.equal(truncateToWidth('Short', 150, 15), 'Short');
  });
});

describe('sniff', () => {
  test('GIVEN magic bytes THEN the kind, whatever the name or type claims', async () => {
    const img = sharp({ create: { width: 4, height: 4, channels: 3, background: '#fff' } });
    assert.equal(sniff(await img.clone().jpeg().toBuffer()).kind, 'jpeg');
    assert.equal(sniff(await img.clone().png().toBuffer()).kind, 'png');
    assert.equal(sniff(await img.clone().webp().toBuffer()).kind, 'webp');
    assert.equal(sniff(await img.clone().gif().toBuffer()).kind, 'gif');
    assert.equal(sniff(await img.clone().tiff().toBuffer()).kind, 'tiff');
    assert.equal(sniff(await img.clone().avif().toBuffer()).kind, 'avif');
    assert.equal(sniff(new Uint8Array(0)).kind, 'empty');
    assert.equal(sniff(Buffer.from('<!DOCTYPE html><html></html>')).kind, 'html');
    assert.equal(sniff(Buffer.from('\ufeff  <html lang="en">')).kind, 'html');
    assert.equal(sniff(Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>')).kind, 'svg');
    assert.equal(sniff(Buffer.from('just words')).kind, 'text');
    assert.equal(sniff(Buffer.from('%PDF-1.7 ...')).kind, 'pdf');
    assert.equal(sniff(Buffer.from([0, 1, 2, 3, 4, 5, 6, 7])).kind, 'unknown');
  });

  test('GIVEN ISO BMFF files THEN AVIF and HEIC are told apart by major AND compatible brands', () => {
    const ftyp = (major: string, ...compatible: string[]): Buffer => {
      const body = Buffer.from(`ftyp${major}\0\0\0\0${compatible.join('')}`, 'latin1');
      const size = Buffer.alloc(4);
      size.writeUInt32BE(4 + body.length);
      return Buffer.concat([size, body, Buffer.alloc(32)]);
    };
    assert.equal(sniff(ftyp('mif1', 'mif1', 'avif', 'miaf')).kind, 'avif', 'generic major brand, avif compatible');
    assert.equal(sniff(ftyp('avif', 'mif1')).kind, 'avif');
    assert.equal(sniff(ftyp('heic', 'mif1', 'heic')).kind, 'heic');
    assert.equal(sniff(ftyp('mif1', 'mif1', 'heic')).kind, 'heic');
    assert.equal(sniff(ftyp('isom', 'mp41')).kind, 'unknown', 'an MP4 video is not an image');
    // One decision for the whole repo: HEIC is decodable (libheif-js in the embedder), a video is not.
    assert.equal(decodableKind(ftyp('heic', 'mif1', 'heic')), 'heic');
    assert.throws(() => decodableKind(ftyp('isom', 'mp41')), { code: 'UNSUPPORTED_IMAGE' });
  });
});
