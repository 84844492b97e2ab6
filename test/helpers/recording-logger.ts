/**
 * A Logger for tests that keeps what it was told: every call of it and of its children, as
 * structured entries, and (for the tests that compare text) as "level message" lines.
 */
import type { Logger } from '@lookalike/core';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogEntry {
  level: LogLevel;
  /** Bindings of the child logger that wrote the entry. */
  bindings: Record<string, unknown>;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export type RecordingLogger = Logger & {
  entries: LogEntry[];
  /** The entries as "level message" lines, in the order they were written. */
  lines(): string[];
  /**
   * Resolves with the first entry (already written or still to come) that matches; rejects after
   * `timeoutMs`, so a missing line fails the test with its description instead of hanging it.
   */
  waitFor(match: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
};

interface LogSink {
  entries: LogEntry[];
  waiters: Set<(entry: LogEntry) => void>;
}

/** A Logger that keeps every entry, for this logger and all its children. */
export function recordingLogger(): RecordingLogger {
  return loggerOn({ entries: [], waiters: new Set() }, {});
}

function loggerOn(sink: LogSink, bindings: Record<string, unknown>): RecordingLogger {
  const at =
    (level: LogLevel) =>
    (obj: unknown, msg?: string): void => {
      // pino style: a lone string is the message.
      const isText = typeof obj === 'string';
      const entry: LogEntry = {
        level,
        bindings,
        obj: isText ? {} : ((obj ?? {}) as Record<string, unknown>),
        msg: isText && msg === undefined ? obj : msg,
      };
      sink.entries.push(entry);
      for (const waiter of [...sink.waiters]) waiter(entry);
    };
  return {
    entries: sink.entries,
    lines: () => sink.entries.map((e) => `${e.level} ${e.msg ?? ''}`),
    child: (b) => loggerOn(sink, { ...bindings, ...b }),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    waitFor(match, timeoutMs = 60_000) {
      const found = sink.entries.find(match);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          sink.waiters.delete(waiter);
          reject(new Error(`no matching log entry within ${timeoutMs} ms`));
        }, timeoutMs);
        const waiter = (entry: LogEntry) => {
          if (!match(entry)) return;
          clearTimeout(timer);
          sink.waiters.delete(waiter);
          resolve(entry);
        };
        sink.waiters.add(waiter);
      });
    },
  };
}
