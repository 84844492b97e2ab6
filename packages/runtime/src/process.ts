/**
 * The life of every answering process (`lookalike start`, apps/discord-bot, apps/slack-bot):
 * start its components, wait for SIGTERM/SIGINT, then stop them in one order within one grace
 * period:
 *
 *   1. stop taking new work (the HTTP server stops listening, the bots ignore new events)
 *   2. let in-flight answers finish
 *   3. leave remote sessions (the bots log out)
 *   4. close local resources (service → catalog → embedder), last started first
 *
 * A second signal exits at once; a shutdown that outlives the grace period exits with 1.
 */
import type { Logger } from '@lookalike/core';

/** The longest a shutdown may take before the process exits anyway. */
export const SHUTDOWN_GRACE_MS = 15_000;

/** Exit code after a second signal during shutdown. */
const EXIT_INTERRUPTED = 130;
/** Exit code when the grace period ran out. */
const EXIT_TOO_SLOW = 1;
/** After a clean shutdown, how long leftover handles may keep the process alive. */
const LINGER_MS = 2_000;

/** Something the process started and must stop. Every step is optional. */
export interface ProcessComponent {
  readonly name: string;
  /** Step 1: stop taking new work. Runs for every component at once. */
  stopAccepting?(): void | Promise<void>;
  /** Step 2: resolve once the work already taken has finished. */
  drain?(): Promise<void>;
  /** Step 3: leave remote sessions (log out of a chat platform). */
  disconnect?(): Promise<void>;
  /** Step 4: release local resources. Components close one at a time, last added first. */
  close?(): Promise<void>;
}

/** The steps, in order, as they appear in logs. */
export const SHUTDOWN_STEPS = ['stopAccepting', 'drain', 'disconnect', 'close'] as const;
export type ShutdownStep = (typeof SHUTDOWN_STEPS)[number];

/** What `start` gets to register components and learn about shutdown. */
export interface ProcessControl {
  /** Registers a started component, so shutdown stops it (also when a later start step fails). */
  add(component: ProcessComponent): void;
  /** True once shutdown has begun. */
  readonly stopping: boolean;
  /** Resolves with the reason (the signal's name, or what `shutdown` was given) once shutdown begins. */
  readonly stopped: Promise<string>;
  /** Begins shutdown from inside the process (a fatal condition). */
  shutdown(reason: string): void;
}

/** Where signals come from; `process` unless a test passes an EventEmitter. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface RunProcessOptions {
  logger: Logger;
  /** Starts the components, registering each with `proc.add` as soon as it runs. */
  start(proc: ProcessControl): Promise<void>;
  /** The one grace period of the whole shutdown. @defaultValue {@link SHUTDOWN_GRACE_MS} */
  graceMs?: number;
  /** Called once when shutdown begins (the CLI prints a line). */
  onShutdown?(reason: string): void;
  /** @defaultValue ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[];
  /** @defaultValue process */
  signalSource?: SignalSource;
  /** Ends the process when shutdown is too slow or interrupted. @defaultValue process.exit */
  exit?(code: number): void;
  /**
   * Exit anyway this long after a clean shutdown if leftover handles keep the process alive
   * (they are logged). 0 = never. @defaultValue 2000
   */
  lingerMs?: number;
}

function errorOf(err: unknown): { message: string } {
  return { message: err instanceof Error ? err.message : String(err) };
}

/**
 * Runs the process: `start`, then waits for a signal (or `proc.shutdown`), then shuts down.
 * @returns the exit code (0 after a clean shutdown)
 * @throws whatever `start` threw, after stopping the components it had registered
 */
export async function runProcess(options: RunProcessOptions): Promise<number> {
  const log = options.logger.child({ component: 'process' });
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const source: SignalSource = options.signalSource ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const graceMs = options.graceMs ?? SHUTDOWN_GRACE_MS;
  const components: ProcessComponent[] = [];

  let stopping = false;
  let resolveStopped: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    resolveStopped = resolve;
  });
  let force: NodeJS.Timeout | undefined;
  /** Shutdown begins: the grace period runs from here, even while start-up is still under way. */
  const begin = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    force = setTimeout(() => {
      log.error({ graceMs }, 'shutdown took too long; exiting');
      exit(EXIT_TOO_SLOW);
    }, graceMs);
    force.unref();
    resolveStopped(reason);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stopping) {
      begin(signal);
      return;
    }
    log.warn({ signal }, 'second signal during shutdown: exiting now');
    exit(EXIT_INTERRUPTED);
  };
  for (const s of signals) source.on(s, onSignal);
  const onRejection = (err: unknown) => log.error({ err }, 'unhandled rejection');
  if (options.signalSource === undefined) process.on('unhandledRejection', onRejection);

  const proc: ProcessControl = {
    add(component) {
      components.push(component);
    },
    get stopping() {
      return stopping;
    },
    stopped,
    shutdown: begin,
  };

  let failure: { error: unknown } | undefined;
  try {
    await options.start(proc);
  } catch (error) {
    failure = { error };
    begin('start-up failed');
  }
  const reason = await stopped;
  if (failure === undefined) {
    log.info({ reason }, 'shutting down: finishing in-flight answers');
    options.onShutdown?.(reason);
  }

  try {
    await stopAll(components, log);
  } finally {
    clearTimeout(force);
    for (const s of signals) source.off(s, onSignal);
    if (options.signalSource === undefined) process.off('unhandledRejection', onRejection);
  }
  if (failure !== undefined) throw failure.error;
  log.info({}, 'bye');
  const lingerMs = options.lingerMs ?? LINGER_MS;
  if (lingerMs > 0) {
    const linger = setTimeout(() => {
      log.warn({ resources: process.getActiveResourcesInfo() }, 'still alive after shutdown; exiting');
      exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
    }, lingerMs);
    linger.unref();
  }
  return 0;
}

/** Runs the four steps over `components`; a step that throws is logged and the next step runs. */
async function stopAll(components: readonly ProcessComponent[], log: Logger): Promise<void> {
  const together = async (step: Exclude<ShutdownStep, 'close'>) => {
    await Promise.all(
      components.map(async (c) => {
        const fn = c[step];
        if (fn === undefined) return;
        try {
          await fn.call(c);
        } catch (err) {
          log.warn({ component: c.name, step, err: errorOf(err) }, 'shutdown step failed');
        }
      }),
    );
  };
  await together('stopAccepting');
  await together('drain');
  await together('disconnect');
  for (const c of [...components].reverse()) {
    if (c.close === undefined) continue;
    try {
      await c.close();
    } catch (err) {
      log.warn({ component: c.name, step: 'close', err: errorOf(err) }, 'shutdown step failed');
    }
  }
  log.info({ components: components.map((c) => c.name) }, 'stopped');
}
