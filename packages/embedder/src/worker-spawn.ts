/**
 * Starts one of the embedder's worker threads from the file next to this module: the built
 * `.js` in production, the `.ts` source under tests and benches (`node --conditions=source
 * --import tsx`). Node 20 does not apply the parent's `--import` loader hooks to a worker's own
 * module graph, so a source worker first registers tsx itself (tsx is a dev dependency: only the
 * source path needs it). `execArgv` (and so `--conditions=source`) is inherited.
 */
import { Worker } from 'node:worker_threads';

export type WorkerName = 'decode-worker' | 'inference-worker';

export function spawnWorker(name: WorkerName, workerData: unknown): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here), { workerData });
  const entry = new URL(`./${name}.ts`, here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData });
}
