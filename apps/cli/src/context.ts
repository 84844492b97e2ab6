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
