/**
 * The `lookalike` command. Composition root: parses configuration once, creates the one
 * pino root logger, and hands children of it to the command that runs.
 */
import { parseArgs } from 'node:util';
import { LookalikeError, loadConfigOrReport } from '@lookalike/core';
import { createRootLogger } from '@lookalike/runtime';
import { COMMANDS } from './commands.js';

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
  const rest = argv.slice(commandToken.index + 1);
  const global = argv.slice(0, commandToken.index);
  let g: { values: { models?: string | undefined; data?: string | undefined } };
  try {
    g = parseArgs({ args: global, options: { models: { type: 'string' }, data: { type: 'string' } }, strict: true });
  } catch (err) {
    process.stderr.write(`lookalike: ${(err as Error).message}\n\n${await usage()}\n`);
    return 2;
  }

  const config = loadConfigOrReport('lookalike', { modelsDir: g.values.models, dataDir: g.values.data });
  if (config === undefined) return 78;
  // stdout carries results: logs go to stderr (pretty when it is a terminal, JSON lines otherwise).
  const root = createRootLogger({ level: config.logLevel, app: 'lookalike', destination: 'stderr' });
  const logger = root.child({ command: name });
  const spec = await entry.load();
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
