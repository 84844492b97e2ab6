/**
 * `npm run bench:more`: the service time of "more like this" (a catalog item's stored vector:
 * no download, no decode, no embedding) against a photo answer (decode + embed + search), in one
 * run on the same catalog, both with the collage. Also the search step alone (vectorOf + search).
 * Untrained weights; a generated catalog of --items images (default 200), --queries presses and
 * photos each (default 60), taken in turns so the machine's noise hits both the same.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createTestStack } from '../helpers/stack.ts';

const { values } = parseArgs({
  options: { items: { type: 'string', default: '200' }, queries: { type: 'string', default: '60' } },
});
const items = Number(values.items);
const queries = Number(values.queries);

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};
const line = (k: string, v: string) => console.log(`${k.padEnd(40)} ${v}`);
const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms`;

const stack = await createTestStack({ catalogSize: items });
try {
  const photos = await Promise.all(stack.items.map((i) => readFile(i.path)));
  const ids = stack.items.map((i) => i.id);
  // Warm up both paths (ORT session, collage tiles).
  for (let i = 0; i < 3; i++) {
    await stack.service.findSimilar(photos[i]!, { userId: 'warm' });
    await stack.service.moreLikeThis(ids[i]!, { userId: 'warm' });
  }
  const more: number[] = [];
  const photo: number[] = [];
  const search: number[] = [];
  for (let i = 0; i < queries; i++) {
    const n = (i * 7) % ids.length;
    let t = performance.now();
    await stack.service.moreLikeThis(ids[n]!, { userId: `u${i}`, exclude: ids.slice(n + 1, n + 7) });
    more.push(performance.now() - t);
    t = performance.now();
    await stack.service.findSimilar(photos[n]!, { userId: `u${i}` });
    photo.push(performance.now() - t);
    t = performance.now();
    const v = await stack.catalog.vectorOf(ids[n]!);
    if (v !== undefined) stack.catalog.search(v, { k: 6, exclude: [ids[n]!] });
    search.push(performance.now() - t);
  }
  line('catalog', `${stack.catalog.size()} items (untrained weights)`);
  line('more like this (service, with collage)', fmt(more));
  line('photo answer (service, with collage)', fmt(photo));
  line('vectorOf + search alone', fmt(search));
  line('ratio more / photo (p50)', (quantile(more, 0.5) / quantile(photo, 0.5)).toFixed(3));
} finally {
  await stack.close();
}
