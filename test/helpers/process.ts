/**
 * Spawns lookalike processes from source: entry points that serve (apps/discord-bot, apps/slack-bot,
 * `lookalike start`), found ready by the port they print, and one-shot `lookalike` commands.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makeTestCatalog } from './catalog.js';
import { ensureUntrainedModels, TEST_TMP_DIR } from './models.js';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface SpawnedApp {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  /** Everything the process printed so far (stdout and stderr). */
  logs: string[];
}

/** Matches pino's `{"port":N,…"msg":"listening…"}` and the CLI's "Local page: http://h:N". */
function portOf(line: string): number | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; port?: number };
    if (entry.msg?.startsWith('listening') && typeof entry.port === 'number') return entry.port;
  } catch {
    // not JSON
  }
  const m = /^(?:Local page:|Listening on) http:\/\/[^\s]+:(\d+)/.exec(line);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/**
 * Starts `node [...nodeArgs] --conditions=source --import tsx <entry> ...args` in `cwd` with only `env`
 * (`nodeArgs`: e.g. `--cpu-prof`, which NODE_OPTIONS may not carry).
 */
export async function spawnApp(
  entry: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
  /** Run a TypeScript source entry through tsx (tests), or a built `.js` entry as is. */
  fromSource = true,
): Promise<SpawnedApp> {
  const loader = fromSource ? ['--conditions=source', '--import', 'tsx'] : [];
  const argv = [...nodeArgs, ...loader, join(REPO_ROOT, entry), ...args];
  const child = spawn(process.execPath, argv, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; output:\n${logs.join('')}`)), 180_000);
    child.once('exit', (code) => reject(new Error(`exited early (${code}); output:\n${logs.join('')}`)));
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream! }).on('line', (line) => {
        logs.push(`${line}\n`);
        const p = portOf(line);
        if (p !== undefined) {
          clearTimeout(timer);
          resolve(p);
        }
      });
    }
  });
  return { child, base: `http://127.0.0.1:${port}`, logs };
}

/** A chat-bot entry point spawned beside a catalog folder that was never indexed. */
export interface BotProcess {
  app: SpawnedApp;
  /** The temporary folder holding the catalog and data dirs (remove it after the test). */
  dir: string;
}

/**
 * Spawns a bot entry point (apps/discord-bot or apps/slack-bot) on untrained weights with a
 * small catalog folder that was never indexed: searches answer INDEX_EMPTY, which proves the
 * wiring from platform to service and back without indexing in the test. The local page is off
 * and attachments may come from 127.0.0.1 (a private address: LOOKALIKE_FETCH_ALLOW_PRIVATE is on).
 * `platformEnv` adds the platform's variables.
 */
export async function spawnBotWithEmptyCatalog(
  entry: string,
  prefix: string,
  platformEnv: Record<string, string>,
): Promise<BotProcess> {
  const modelsDir = await ensureUntrainedModels();
  const dir = await mkdtemp(join(TEST_TMP_DIR, prefix));
  const catalog = await makeTestCatalog(join(dir, 'catalog'), { count: 4 });
  const app = await spawnApp(entry, [], dir, {
    LOOKALIKE_MODELS_DIR: modelsDir,
    LOOKALIKE_DATA_DIR: join(dir, 'data'),
    LOOKALIKE_CATALOG_DIR: catalog.imagesDir,
    LOOKALIKE_LABELS: catalog.labelsPath,
    ATTACHMENT_HOSTS: '127.0.0.1',
    LOOKALIKE_FETCH_ALLOW_PRIVATE: 'true',
    HOST: '127.0.0.1',
    PORT: '0',
    LOCAL_PAGE: 'off',
    LOG_LEVEL: 'info',
    ...platformEnv,
  });
  return { app, dir };
}

export interface CliRun {
  /** The exit code (null when killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lookalike ...args` (apps/cli from source) from the repository root to completion and
 * collects its output. The environment is this process's, with LOG_LEVEL=warn unless `env` says otherwise.
 */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'apps/cli/src/main.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A `lookalike` command left running (a worker, a coordinator), with its output so far. */
export interface RunningCli {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr, line by line). */
  logs: string[];
  /** Resolves with the exit code (null when killed by a signal) and the output. */
  exited: Promise<CliRun>;
  /** Resolves with the first line matching `pattern` (rejects if the process exits first or after `timeoutMs`). */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/**
 * Starts `lookalike ...args` (apps/cli from source) and returns at once. The environment is this
 * process's, with LOG_LEVEL=warn unless `env` says otherwise.
 */
export function spawnCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, 'apps/cli/src/main.ts'), ...args],
    { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: string[] = [];
  let stdout = '';
  let stderr = '';
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    logs.push(line);
    for (const w of waiters) {
      if (w.pattern.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', (l) => {
    stdout += `${l}\n`;
    onLine(l);
  });
  createInterface({ input: child.stderr }).on('line', (l) => {
    stderr += `${l}\n`;
    onLine(l);
  });
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    child,
    logs,
    exited,
    line(pattern, timeoutMs = 180_000) {
      const seen = logs.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const w = {
          pattern,
          resolve: (l: string) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms; output:\n${logs.join('\n')}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then((r) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`exited (${r.code}) before a line matching ${pattern}; output:\n${logs.join('\n')}`));
        });
      });
    },
  };
}
