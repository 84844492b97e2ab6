/**
 * A private Redis for one test file: `redis-server` as a child process (not daemonized) on a
 * free loopback port, no persistence. Never a system-wide instance.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { listenOnLoopback } from './net.js';

export interface RedisServer {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** Stops the server and starts a fresh one (empty: nothing is persisted) on the same port. */
  restart(): Promise<void>;
  /** Stops the server, leaving the port unanswered until `up` (an outage of any length). */
  down(): Promise<void>;
  /** Starts a fresh server on the same port after `down`. */
  up(): Promise<void>;
}

const REDIS_SERVER = 'redis-server';

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True once the server answers PING on `port`. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `redis-server is not installed (${probe.error?.message ?? probe.stderr}); run \`npm run setup\` (Debian package redis-server)`,
    );
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const start = async (): Promise<void> => {
    output = '';
    const c = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    c.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const deadline = Date.now() + 30_000;
    while (!(await pings(port))) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`redis-server exited early:\n${output}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING within 30 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    await exited;
  };

  try {
    await start();
  } catch (err) {
    child?.kill('SIGKILL');
    process.removeListener('exit', killOnExit);
    throw err;
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stop();
      process.removeListener('exit', killOnExit);
    },
    async restart() {
      await stop();
      await start();
    },
    down: stop,
    up: start,
  };
}
