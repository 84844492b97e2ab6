/**
 * Adapts the product's pino-compatible `Logger` to the `Logger` interface that Bolt,
 * the Web API client and the Socket Mode client expect. Tokens are redacted from every line.
 */
import type { Logger } from '@lookalike/core';
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';

const TOKEN = /\b(xox[abeoprs]|xapp)-[A-Za-z0-9-]+/g;

/** Replaces anything shaped like a Slack token (xoxb-…, xapp-…) with a marker. */
export function redactTokens(text: string): string {
  return text.replace(TOKEN, '$1-[redacted]');
}

function render(part: unknown): string {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return part.message;
  try {
    return JSON.stringify(part) ?? String(part);
  } catch {
    return String(part);
  }
}

/** Wraps a pino-style logger for Bolt. Levels are left to the wrapped logger. */
export function toSlackLogger(logger: Logger): SlackLogger {
  let level: LogLevel = LogLevel.DEBUG;
  let name = 'bolt';
  const emit = (method: 'debug' | 'info' | 'warn' | 'error', parts: unknown[]) => {
    const err = parts.find((p): p is Error => p instanceof Error);
    const msg = redactTokens(parts.map(render).join(' '));
    const bindings: Record<string, unknown> = { lib: name };
    if (err !== undefined) {
      bindings.err = { type: err.name, message: redactTokens(err.message), code: (err as { code?: unknown }).code };
    }
    logger[method](bindings, msg);
  };
  return {
    debug: (...msg: unknown[]) => emit('debug', msg),
    info: (...msg: unknown[]) => emit('info', msg),
    warn: (...msg: unknown[]) => emit('warn', msg),
    error: (...msg: unknown[]) => emit('error', msg),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (n: string) => {
      name = n;
    },
  };
}
