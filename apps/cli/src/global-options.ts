/**
 * The options every command takes, wherever they stand on the command line: `--models DIR` and
 * `--data DIR` (also as `--models=DIR`), `--help`/`-h` and `--version`. They are taken out of the
 * command's own arguments before the command parses the rest; a `--` ends option parsing, as usual.
 */
export interface GlobalOptions {
  models?: string;
  data?: string;
  help: boolean;
  version: boolean;
}

export type SplitResult = { ok: true; global: GlobalOptions; rest: string[] } | { ok: false; message: string };

const VALUED = new Set(['--models', '--data']);

/** Separates the global options from a command's arguments. Pure. */
export function splitGlobalOptions(args: readonly string[]): SplitResult {
  const global: GlobalOptions = { help: false, version: false };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      rest.push(...args.slice(i));
      break;
    }
    if (arg === '--help' || arg === '-h') {
      global.help = true;
      continue;
    }
    if (arg === '--version') {
      global.version = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (!VALUED.has(flag)) {
      rest.push(arg);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('-'))) {
      return { ok: false, message: `Option '${flag} <value>' argument missing` };
    }
    if (flag === '--models') global.models = value;
    else global.data = value;
  }
  return { ok: true, global, rest };
}
