import { type ParseArgsConfig, parseArgs } from 'node:util';
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

/** A sub-command's help (`lookalike models fetch --help`). */
export interface SubcommandHelp {
  name: string;
  /** Starts with the command's name, e.g. "models fetch [--url URL]". */
  usage: string;
  /** One or more lines. */
  summary: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  /** The sub-commands, for `COMMAND SUB --help` (and `COMMAND --help` lists them). */
  subcommands?: readonly SubcommandHelp[];
  run: Command;
}

/** Sub-commands as help lines: the usage, then the summary indented under it. */
export function subcommandLines(subs: readonly SubcommandHelp[]): string {
  return subs.map((s) => `  lookalike ${s.usage}\n${s.summary.replace(/^/gm, '      ')}`).join('\n');
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

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** What `parseArgs` returns for a command's options (strict). */
export type ParsedArgs<O extends OptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** A command whose flags are parsed by node:util `parseArgs` before `run` sees them. */
export interface CommandDefinition<O extends OptionsConfig> {
  name: string;
  summary: string;
  usage: string;
  subcommands?: readonly SubcommandHelp[];
  options: O;
  /** Whether arguments without a flag are accepted. @defaultValue true */
  allowPositionals?: boolean;
  run(args: ParsedArgs<O>, ctx: CliContext): Promise<number>;
}

/**
 * Builds a {@link CommandSpec} from a definition: unknown flags, missing flag values and (when
 * not allowed) positionals become a usage error (exit 2) before `run` is called.
 */
export function defineCommand<const O extends OptionsConfig>(def: CommandDefinition<O>): CommandSpec {
  return {
    name: def.name,
    summary: def.summary,
    usage: def.usage,
    ...(def.subcommands === undefined ? {} : { subcommands: def.subcommands }),
    async run(argv, ctx) {
      let parsed: ParsedArgs<O>;
      try {
        parsed = parseArgs({
          args: argv,
          options: def.options,
          allowPositionals: def.allowPositionals ?? true,
          strict: true,
        }) as ParsedArgs<O>;
      } catch (err) {
        return usageError(ctx, def.usage, (err as Error).message);
      }
      return def.run(parsed, ctx);
    },
  };
}
