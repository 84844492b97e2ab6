/**
 * The process's one root logger: pino, pretty-printed (pino-pretty) when its destination is a
 * terminal, JSON lines otherwise. Components receive children of it.
 */
import { type Logger as PinoLogger, pino } from 'pino';
import { PinoPretty } from 'pino-pretty';

export interface RootLoggerOptions {
  /** pino level name, e.g. config.logLevel. */
  level: string;
  /** Bound to every line as `app`, e.g. "lookalike-discord". */
  app: string;
  /** Where lines go: the CLI logs to stderr (stdout carries results). @defaultValue 'stdout' */
  destination?: 'stdout' | 'stderr';
  /** Pretty-print instead of JSON. @defaultValue whether the destination is a TTY */
  pretty?: boolean;
}

/** Creates the root logger. Writes are synchronous, so nothing logged just before exit is lost. */
export function createRootLogger(options: RootLoggerOptions): PinoLogger {
  const stream = options.destination === 'stderr' ? process.stderr : process.stdout;
  const fd = options.destination === 'stderr' ? 2 : 1;
  const pretty = options.pretty ?? stream.isTTY === true;
  const settings = { level: options.level, base: { app: options.app } };
  if (!pretty) return pino(settings, pino.destination({ dest: fd, sync: true }));
  return pino(
    settings,
    PinoPretty({
      destination: fd,
      sync: true,
      colorize: stream.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,app',
    }),
  );
}
