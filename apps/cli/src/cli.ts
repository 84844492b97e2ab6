/**
 * What `lookalike ARGS` does, as a function (main.ts is the process entry that calls it): global
 * options, help, version and command dispatch. Composition root: parses configuration once,
 * creates the one pino root logger, and hands children of it to the command that runs.
 */
import { readFileSync } from 'node:fs';
import { LookalikeError, loadConfigOrReport } from '@lookalike/core';
import { createRootLogger } from '@lookalike/runtime';
import { COMMANDS } from './commands.js';
import { type CommandSpec, subcommandLines } from './context.js';
import { splitGlobalOptions } from './global-options.js';

const GLOBAL_NOTE = 'Every command also takes --models DIR and --data DIR (anywhere on the line).';

/** The version in apps/cli/package.json (one level above both src/ and dist/). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

async function usage(): Promise<string> {
  const specs = await Promise.all(COMMANDS.map((c) => c.load()));
  const lines = specs.map((c) => `  ${c.usage}\n      ${c.summary}`);
  return [
    'Usage: lookalike [--models DIR] [--data DIR] <command> [options]',
    '       lookalike <command> --help   |   lookalike help <command>   |   lookalike --version',
    '',
    'Commands:',
    ...lines,
    '',
    'Global options (before or after the command):',
    '  --models DIR   model files (env LOOKALIKE_MODELS_DIR, default models/)',
    '  --data DIR     catalog database and index (env LOOKALIKE_DATA_DIR, default data/)',
    '  -h, --help     this text, or the usage of the command (and sub-command) it follows',
    '  --version      print the version',
  ].join('\n');
}

/**
 * `COMMAND --help`: the command's usage, or its sub-command's when the first argument after the
 * command names one (`models fetch --help`); a command with sub-commands lists them.
 */
function commandHelp(spec: CommandSpec, args: readonly string[]): string {
  const subs = spec.subcommands ?? [];
  const first = args.find((a) => !a.startsWith('-'));
  const sub = subs.find((s) => s.name === first);
  if (sub !== undefined) return `Usage: lookalike ${sub.usage}\n\n${sub.summary}\n\n${GLOBAL_NOTE}\n`;
  if (subs.length === 0) return `Usage: lookalike ${spec.usage}\n\n${spec.summary}\n\n${GLOBAL_NOTE}\n`;
  const names = subs.map((s) => s.name).join('|');
  return (
    `Usage: lookalike ${spec.name} ${names} [options]\n\n${spec.summary}\n\n` +
    `Sub-commands:\n${subcommandLines(subs)}\n\n${GLOBAL_NOTE}\n`
  );
}

/** Where a run writes: results and help on `stdout`, mistakes and progress on `stderr`. */
export interface CliStreams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Runs `lookalike ...argv` and resolves to its exit code: 0 done (and help, --version), 1 the
 * command failed, 2 a usage mistake, 78 invalid configuration. Logs go to the process's stderr.
 */
export async function runLookalike(argv: readonly string[], io: CliStreams): Promise<number> {
  // Global options may come before the command name or anywhere among its arguments; a later one
  // wins over an earlier one. What is left starts with the command name.
  const split = splitGlobalOptions(argv);
  if (!split.ok) {
    io.stderr.write(`lookalike: ${split.message}\n\n${await usage()}\n`);
    return 2;
  }
  const { global } = split;
  let [name, ...rest] = split.rest;
  let help = global.help;
  if (name === 'help') {
    // `lookalike help [COMMAND [SUB]]` is `lookalike [COMMAND [SUB]] --help`.
    help = true;
    [name, ...rest] = rest;
  }
  if (name === undefined) {
    if (global.version && !help) {
      io.stdout.write(`lookalike ${version()}\n`);
      return 0;
    }
    io.stdout.write(`${await usage()}\n`);
    return help ? 0 : 2;
  }
  if (name.startsWith('-')) {
    io.stderr.write(`lookalike: Unknown option '${name}'\n\n${await usage()}\n`);
    return 2;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    io.stderr.write(`lookalike: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  const spec = await entry.load();
  if (help) {
    io.stdout.write(commandHelp(spec, rest));
    return 0;
  }
  if (global.version) {
    io.stdout.write(`lookalike ${version()}\n`);
    return 0;
  }

  const config = loadConfigOrReport('lookalike', { modelsDir: global.models, dataDir: global.data }, io.stderr);
  if (config === undefined) return 78;
  // stdout carries results: logs go to stderr (pretty when it is a terminal, JSON lines otherwise).
  const root = createRootLogger({ level: config.logLevel, app: 'lookalike', destination: 'stderr' });
  const logger = root.child({ command: name });
  try {
    return await spec.run(rest, { config, logger, stdout: io.stdout, stderr: io.stderr });
  } catch (err) {
    if (err instanceof LookalikeError) {
      logger.debug({ err }, 'command failed');
      io.stderr.write(`lookalike ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    logger.error({ err }, 'command crashed');
    return 1;
  }
}
