import type { Config, Logger } from '@lookalike/core';

/** What every command receives from main.ts. */
export interface CliContext {
  /** Parsed once in main.ts (environment, .env, then --models/--data). */
  config: Config;
  /** Child of the one root pino logger. Writes to stderr. */
  logger: Logger;
  /** Where results go (JSON, tables). Progress bars and warnings go to stderr. */
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** A sub-command: receives the arguments after its name, returns the exit code. */
export type Command = (argv: string[], ctx: CliContext) => Promise<number>;

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  run: Command;
}

/**
 * Reports a command-line mistake and the command's usage on stderr; returns exit code 2.
 * `usage` starts with the command's name, e.g. "embed IMAGE... [--runtime onnx|tfjs]".
 */
export function usageError(ctx: Pick<CliContext, 'stderr'>, usage: string, message: string): number {
  const name = usage.split(' ')[0] ?? '';
  ctx.stderr.write(`lookalike ${name}: ${message}\nUsage: lookalike ${usage}\n`);
  return 2;
}
