/**
 * Child process of workers.test.ts: opens an embedder, embeds, disposes, then prints its active
 * resources as one JSON line and returns. The test checks that this process then exits by itself
 * (no --test-force-exit): nothing the embedder started may keep it alive.
 */
import { createEmbedder } from '@lookalike/embedder';
import sharp from 'sharp';

const modelsDir = process.argv[2] as string;
const embedder = await createEmbedder({ modelsDir, warnUntrained: false });
const img = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#336699' } })
  .png()
  .toBuffer();
const pending = Promise.all([embedder.embed([img]), embedder.embed([img, img], { priority: 'batch' })]);
// While images are outstanding the workers hold the process open.
const during = process.getActiveResourcesInfo();
await pending;
await embedder.dispose();
console.log(JSON.stringify({ during, after: process.getActiveResourcesInfo() }));
