/**
 * A core `Logger` for worker threads: each line is posted to the main thread, which writes it
 * with the embedder's logger (so workers need no logger of their own). Posting never throws:
 * fields that structured clone refuses (functions, cycles…) are reduced to what JSON keeps.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from '@lookalike/core';
import { cloneableRecord } from './plain-data.js';
import type { LogMessage } from './protocol.js';

/** An error as plain fields (structured clone would drop its code and details). */
function errorFields(err: Error): Record<string, unknown> {
  const own = err as unknown as Record<string, unknown>;
  return {
    type: err.name,
    message: err.message,
    stack: err.stack,
    ...('code' in own ? { code: own.code } : {}),
    ...('details' in own ? { details: own.details } : {}),
  };
}

function fields(obj: unknown): Record<string, unknown> {
  if (obj instanceof Error) return { err: errorFields(obj) };
  if (obj === null || typeof obj !== 'object') return { value: obj };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = v instanceof Error ? errorFields(v) : v;
  return out;
}

function post(port: MessagePort, message: LogMessage): void {
  try {
    port.postMessage(message);
    return;
  } catch {
    // Not cloneable: send what JSON keeps, below.
  }
  try {
    port.postMessage({ ...message, obj: cloneableRecord(message.obj, 'the log fields could not be sent') });
  } catch {
    // The port is gone (the thread is closing): the line has nowhere to go.
  }
}

export function workerLogger(port: MessagePort, bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: LogMessage['level']) =>
    (obj: unknown, msg?: string): void => {
      let logged: Record<string, unknown>;
      try {
        logged = { ...bindings, ...fields(obj) };
      } catch {
        logged = { ...bindings, unserializable: 'the log fields could not be read' };
      }
      post(port, { type: 'log', level, obj: logged, msg: msg ?? '' });
    };
  return {
    child: (more) => workerLogger(port, { ...bindings, ...more }),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
  };
}
