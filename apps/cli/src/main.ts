/**
 * The `lookalike` command. Composition root: parses configuration once, creates the one
 * pino root logger, and hands children of it to the command that runs.
 */
import { parseArgs } from 'node:util';
import { LookalikeError, loadConfigOrReport } from '@lookalike/core';
import { createRootLogger } from '@lookalike/runtime';
import { COMMANDS } from './commands.js';
import { splitGlobalOptions } from './global-options.js';

async function usage(): Promise<string> {
  const specs = await Promise.all(COMMANDS.map((c) => c.load()));
  const lines = specs.map((c) => `  ${c.usage}\n      ${c.summary}`);
  return [
    'Usage: lookalike [--models DIR] [--data DIR] <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global options:',
    '  --models DIR   model files (env LOOKALIKE_MODELS_DIR, default models/)',
    '  --data DIR     catalog database and index (env LOOKALIKE_DATA_DIR, default data/)',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals, tokens } = parseArgs({
    args: argv,
    options: {
      models: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  // Global options are those before the command name; everything after belongs to the command.
  const commandToken = tokens.find((t) => t.kind === 'positional');
  const name = positionals[0];
  if (name === undefined || commandToken === undefined) {
    process.stdout.write(`${await usage()}\n`);
    return values.help === true ? 0 : 2;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (entry === undefined) {
    process.stderr.write(`lookalike: unknown command "${name}"\n\n${await usage()}\n`);
    return 2;
  }
  // Global options may come before the command name or anywhere among its arguments.
  const before = splitGlobalOptions(argv.slice(0, commandToken.index));
  const after = splitGlobalOptions(argv.slice(commandToken.index + 1));
  if (!before.ok || !after.ok || before.rest.length > 0) {
    const message = !before.ok
      ? before.message
      : !after.ok
        ? after.message
        : `Unknown option '${before.rest[0] ?? ''}'`;
    process.stderr.write(`lookalike: ${message}\n\n${await usage()}\n`);
    return 2;
  }
  const spec = await entry.load();
  if (before.global.help || after.global.help) {
    process.stdout.write(
      `Usage: lookalike ${spec.usage}\n\n${spec.summary}\n\n` +
        'Every command also takes --models DIR and --data DIR (anywhere on the line).\n',
    );
    return 0;
  }
  // After the command name wins over before it, as a later flag would.
  const modelsDir = after.global.models ?? before.global.models;
  const dataDir = after.global.data ?? before.global.data;
  const rest = after.rest;

  const config = loadConfigOrReport('lookalike', { modelsDir, dataDir });
  if (config === undefined) return 78;
  // stdout carries results: logs go to stderr (pretty when it is a terminal, JSON lines otherwise).
  const root = createRootLogger({ level: config.logLevel, app: 'lookalike', destination: 'stderr' });
  const logger = root.child({ command: name });
  try {
    return await spec.run(rest, { config, logger, stdout: process.stdout, stderr: process.stderr });
  } catch (err) {
    if (err instanceof LookalikeError) {
      logger.debug({ err }, 'command failed');
      process.stderr.write(`lookalike ${name}: ${err.code}: ${err.message}\n`);
      return 1;
    }
    logger.error({ err }, 'command crashed');
    return 1;
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
