/**
 * Inference worker thread: loads the model (checksummed), warms it up, then embeds the tensors
 * that the decode worker sends over its MessageChannel, interactive first (see batcher.ts).
 * Vectors go back to the main thread on their own transferred buffers.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { LookalikeError } from '@lookalike/core';
import { PriorityBatcher } from './batcher.js';
import { loadRuntime } from './load-runtime.js';
import {
  errorMessage,
  type FromInference,
  type InferenceWorkerData,
  type TensorMessage,
  type ToInference,
  toWire,
} from './protocol.js';
import { INPUT_LENGTH, type InferenceRuntime } from './runtime.js';
import { crashOnRequest } from './worker-crash.js';
import { workerLogger } from './worker-logger.js';

const port = parentPort as MessagePort;
const data = workerData as InferenceWorkerData;
const logger = workerLogger(port);
const send = (message: FromInference, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

async function start(): Promise<InferenceRuntime | undefined> {
  let runtime: InferenceRuntime | undefined;
  try {
    runtime = await loadRuntime({ ...data, logger });
    if (data.warmup) await runtime.run(new Float32Array(INPUT_LENGTH), 1);
    return runtime;
  } catch (err) {
    await runtime?.dispose().catch(() => {});
    const e =
      err instanceof LookalikeError
        ? err
        : new LookalikeError('INTERNAL', `model warm-up failed: ${errorMessage(err)}`, { cause: err });
    send({ type: 'init-failed', error: toWire(e) });
    port.close();
    return undefined;
  }
}

const runtime = await start();
if (runtime !== undefined) {
  const decoders = new Set<MessagePort>();
  const batcher = new PriorityBatcher(runtime, data, {
    started: (ids) => send({ type: 'started', ids }),
    done: (ids, vectors) =>
      send(
        { type: 'done', ids, vectors },
        vectors.map((v) => v.buffer as ArrayBuffer),
      ),
    failed: (ids, error) => {
      const e =
        error instanceof LookalikeError
          ? error
          : new LookalikeError('INTERNAL', `inference failed: ${errorMessage(error)}`, { cause: error });
      logger.error({ err: e, batch: ids.length }, 'inference batch failed');
      send({ type: 'failed', ids, error: toWire(e) });
    },
  });

  const close = async (): Promise<void> => {
    await batcher.idle();
    await runtime.dispose();
    for (const p of decoders) p.close();
    // Nothing else holds the loop: the thread exits, and the main side sees 'exit' 0.
    port.close();
  };

  port.on('message', (m: ToInference) => {
    switch (m.type) {
      case 'decoder':
        decoders.add(m.port);
        m.port.on('message', (t: TensorMessage) => batcher.add(t.id, t.priority, t.tensor));
        m.port.on('close', () => decoders.delete(m.port));
        break;
      case 'close':
        void close();
        break;
      case 'crash':
        crashOnRequest(m.mode, 'inference worker');
        break;
    }
  });
  send({ type: 'ready', detail: runtime.detail });
}
