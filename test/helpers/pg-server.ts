/**
 * A private PostgreSQL for one test file: `initdb` into a temp dir, `pg_ctl -w start` on a free
 * loopback port with its socket in that dir, stopped (`-m immediate`) and removed afterwards.
 * Never a system-wide instance. The binaries come from Debian's `postgresql` (npm run setup).
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listenOnLoopback } from './net.js';

const run = promisify(execFile);

export interface PgServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication, loopback only). */
  url: string;
  port: number;
  /** The temp dir: data in `data/`, the socket and `server.log` beside it. */
  dir: string;
  /** Stops the server at once (`pg_ctl -m immediate stop`) and removes the dir. */
  stop(): Promise<void>;
  /** Kills the server (`-m immediate`) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Kills the server (`-m immediate`), leaving the port unanswered until `up` (an outage of any length). */
  down(): Promise<void>;
  /** Starts it again on the same port and data after `down`. */
  up(): Promise<void>;
}

/** The newest /usr/lib/postgresql/N/bin that has initdb and pg_ctl. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] === undefined) {
    throw new Error(
      'PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/initdb): run `npm run setup`, which installs Debian `postgresql`.',
    );
  }
  return join(root, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** initdb refuses to run as root: as root, run the binaries as the `postgres` user. */
function asPostgres(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

export async function startPostgres(): Promise<PgServer> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'lookalike-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  // mkdtemp gives mode 700: the postgres user must traverse and write it.
  await chmod(dir, 0o755);
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const exec = async (name: string, args: string[]) => {
    const [cmd, argv] = asPostgres(join(bin, name), args);
    try {
      await run(cmd, argv, { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
    } catch (err) {
      const logText = await readFile(log, 'utf8').catch(() => '');
      const e = err as { stderr?: string; message: string };
      throw new Error(`${name} failed: ${e.stderr ?? e.message}\n${logText}`);
    }
  };
  let port = 0;
  const start = () =>
    exec('pg_ctl', [
      '-D',
      data,
      '-l',
      log,
      '-o',
      // fsync off is safe against a killed server (the OS keeps the data); synchronous_commit stays on,
      // so a commit survives `restart()` (-m immediate).
      `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c full_page_writes=off`,
      '-w',
      '-t',
      '120',
      'start',
    ]);
  const kill = () => exec('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  let running = false;
  // A test process that dies without stop() must not leave a postmaster behind.
  const onExit = () => {
    if (!running) return;
    try {
      const [cmd, argv] = asPostgres(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      execFileSync(cmd, argv, { cwd: dir, stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // The port is free when picked; another process may take it before postgres binds: retry.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await start();
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    running = true;
    process.once('exit', onExit);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    async stop() {
      if (running) {
        running = false;
        process.off('exit', onExit);
        await kill().catch(() => {});
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      await start();
    },
    async down() {
      await kill();
    },
    async up() {
      await start();
    },
  };
}
