/**
 * Decode worker thread: reads a path or takes the transferred bytes, sniffs (core's sniffer),
 * decodes with sharp (HEIC/HEIF with libheif-js, loaded here on the first one), resizes
 * PIL-nearest and applies caffe, then transfers the tensor straight to its inference worker over
 * a MessageChannel (never through the main thread). Interactive images start decoding before
 * batch ones. Its loop stays free while the inference worker's `session.run` blocks that one, so
 * decoding overlaps inference. A HEIC decode is synchronous WebAssembly and holds this loop for
 * its duration (about 2 s for a typical 12 MP iPhone photo here).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { LookalikeError } from '@lookalike/core';
import { PriorityLimiter } from './limiter.js';
import { preprocessImage } from './preprocess.js';
import { type DecodeWorkerData, type FromDecoder, type TensorMessage, type ToDecoder, toWire } from './protocol.js';
import { crashOnRequest } from './worker-crash.js';
import { workerLogger } from './worker-logger.js';

const port = parentPort as MessagePort;
const data = workerData as DecodeWorkerData;
const logger = workerLogger(port);
const send = (message: FromDecoder): void => port.postMessage(message);
const limiter = new PriorityLimiter(data.concurrency);
const routes = new Map<number, MessagePort>();

function fail(id: number, err: unknown): void {
  send({ type: 'failed', id, error: toWire(err) });
}

async function decode(m: Extract<ToDecoder, { type: 'decode' }>): Promise<void> {
  try {
    const tensor = await preprocessImage(m.input, data.preprocessing);
    const route = routes.get(m.target);
    if (route === undefined) throw new LookalikeError('INTERNAL', `no route to inference worker ${m.target}`);
    const message: TensorMessage = { type: 'tensor', id: m.id, priority: m.priority, tensor };
    route.postMessage(message, [tensor.buffer as ArrayBuffer]);
    send({ type: 'decoded', id: m.id });
  } catch (err) {
    fail(m.id, err);
  }
}

/** Runs one decode; whatever escapes it (a failure to report a failure) is logged and reported as INTERNAL. */
function schedule(m: Extract<ToDecoder, { type: 'decode' }>): void {
  limiter
    .run(m.priority, () => decode(m))
    .catch((err: unknown) => {
      logger.error({ err, id: m.id }, 'decode task failed unexpectedly');
      try {
        fail(m.id, new LookalikeError('INTERNAL', 'the decode worker could not report the outcome of this image'));
      } catch {
        // Nothing more can be sent; the main thread rejects the image when this worker exits.
      }
    });
}

let closing = false;
async function close(): Promise<void> {
  closing = true;
  await limiter.idle();
  for (const p of routes.values()) p.close();
  port.close();
}

port.on('message', (m: ToDecoder) => {
  switch (m.type) {
    case 'decode':
      if (closing) fail(m.id, new LookalikeError('INTERNAL', 'embedder is disposed'));
      else schedule(m);
      break;
    case 'route':
      routes.get(m.target)?.close();
      routes.set(m.target, m.port);
      break;
    case 'close':
      void close();
      break;
    case 'crash':
      crashOnRequest(m.mode, 'decode worker');
      break;
  }
});
send({ type: 'ready' });
