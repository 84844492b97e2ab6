/**
 * Spawns a lookalike entry point (apps/slack-bot or `lookalike start`) from source with a
 * clean environment, and finds the port it listens on from its output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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

/** Starts `node --conditions=source --import tsx <entry> ...args` in `cwd` with only `env`. */
export async function spawnApp(
  entry: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<SpawnedApp> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(REPO_ROOT, entry), ...args], {
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
