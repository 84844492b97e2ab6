/**
 * Child process for the SIGKILL test: runs one reindex of a catalog with small batches.
 * argv: modelsDir dataDir imagesDir labelsPath
 */
import { openCatalog } from '@lookalike/catalog';
import { createEmbedder } from '@lookalike/embedder';

const [modelsDir, dataDir, imagesDir, labelsPath] = process.argv.slice(2);
if (modelsDir === undefined || dataDir === undefined || imagesDir === undefined || labelsPath === undefined) {
  throw new Error('usage: index-child.ts modelsDir dataDir imagesDir labelsPath');
}
const embedder = await createEmbedder({ modelsDir, batchSize: 2 });
const catalog = await openCatalog({ dataDir, imagesDir, labelsPath, embedder, batchSize: 2 });
process.stdout.write('ready\n');
const summary = await catalog.reindex();
process.stdout.write(`${JSON.stringify(summary)}\n`);
await catalog.close();
await embedder.dispose();
