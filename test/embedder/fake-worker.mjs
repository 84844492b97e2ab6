/**
 * A stand-in for the embedder's worker threads in pool.test.ts (no model, no sharp): it speaks
 * the worker protocol of packages/embedder/src/protocol.ts and behaves as `workerData.mode` says:
 *   ok          ready; exits on 'close', dies on 'crash'
 *   hang        like ok, but never answers a 'decode' (a stuck worker)
 *   fail-start  reports init-failed (MODEL_INVALID) and exits
 *   exit-start  exits with code 1 before it is ready
 */
import { parentPort, workerData } from 'node:worker_threads';

const { name, mode } = workerData;
const ports = [];

if (mode === 'exit-start') {
  process.exit(1);
} else if (mode === 'fail-start') {
  parentPort.postMessage({
    type: 'init-failed',
    error: { code: 'MODEL_INVALID', message: 'fake model is damaged', details: {}, userMessage: 'Damaged model.' },
  });
  parentPort.close();
} else {
  parentPort.on('message', (m) => {
    if (m.type === 'route' || m.type === 'decoder') ports.push(m.port);
    else if (m.type === 'crash') process.exit(70);
    else if (m.type === 'close') {
      for (const p of ports) p.close();
      parentPort.close();
    }
    // 'decode': a hanging worker never answers; no test sends one to an 'ok' worker.
  });
  parentPort.postMessage(name === 'inference-worker' ? { type: 'ready', detail: 'fake runtime' } : { type: 'ready' });
}
