/**
 * Child process for the model-change crash test: opens a catalog built with the real weights
 * under the other model (test/catalog/other-model.ts), starts the re-embed, lets `allow` images
 * through, prints "held <done>" once they are committed to the shadow, and waits to be killed.
 * argv: modelsDir dataDir imagesDir labelsPath allow
 */
import { openCatalog } from '@lookalike/catalog';
import { createEmbedder } from '@lookalike/embedder';
import { steppedEmbedder, until } from '../helpers/gate.ts';
import { otherModel } from './other-model.ts';

const [modelsDir, dataDir, imagesDir, labelsPath, allowText] = process.argv.slice(2);
if ([modelsDir, dataDir, imagesDir, labelsPath, allowText].includes(undefined)) {
  throw new Error('usage: migrate-child.ts modelsDir dataDir imagesDir labelsPath allow');
}
const allow = Number(allowText);
const real = await createEmbedder({ modelsDir: modelsDir!, batchSize: 2 });
const gate = steppedEmbedder(otherModel(real));
const catalog = await openCatalog({
  dataDir: dataDir!,
  imagesDir: imagesDir!,
  labelsPath: labelsPath!,
  embedder: gate,
  batchSize: 2,
  allowModelMismatch: true,
});
const run = catalog.reindex();
run.catch((err: unknown) => {
  process.stderr.write(`reindex failed: ${String(err)}\n`);
  process.exit(1);
});
gate.allow(allow);
await until(() => (catalog.migration()?.done ?? 0) >= allow, 'the first re-embedded items', 5 * 60_000);
process.stdout.write(`held ${catalog.migration()?.done}\n`);
// Held here: the rest never passes the gate; the parent kills this process.
await new Promise(() => setInterval(() => {}, 60_000));
