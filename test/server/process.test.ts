/**
 * runProcess, the life of every answering process: one shutdown order (stop taking work → in-flight
 * answers finish → bots log out → service, catalog, embedder close), one grace period, a second
 * signal exits at once, and a failed start stops what had started. Signals come from an
 * EventEmitter and exit is recorded, so the test process is never signalled or ended.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, test } from 'node:test';
import { silentLogger } from '@lookalike/core';
import {
  chatComponent,
  closeComponent,
  httpComponent,
  type ProcessComponent,
  type RunProcessOptions,
  runProcess,
} from '@lookalike/runtime';

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A component that records each step it is asked to take in `calls` as "name.step". */
function recorder(
  name: string,
  calls: string[],
  steps: { stopAccepting?: boolean; drain?: () => Promise<void>; disconnect?: () => Promise<void>; close?: boolean },
): ProcessComponent {
  const c: { -readonly [K in keyof ProcessComponent]: ProcessComponent[K] } = { name };
  if (steps.stopAccepting === true) c.stopAccepting = () => void calls.push(`${name}.stopAccepting`);
  const drain = steps.drain;
  if (drain !== undefined) {
    c.drain = async () => {
      calls.push(`${name}.drain`);
      await drain();
    };
  }
  const disconnect = steps.disconnect;
  if (disconnect !== undefined) {
    c.disconnect = async () => {
      calls.push(`${name}.disconnect`);
      await disconnect();
    };
  }
  if (steps.close === true) c.close = async () => void calls.push(`${name}.close`);
  return c;
}

function options(signals: EventEmitter, exits: number[], over: Partial<RunProcessOptions>): RunProcessOptions {
  return {
    logger: silentLogger,
    signalSource: signals,
    exit: (code) => void exits.push(code),
    lingerMs: 0,
    start: async () => {},
    ...over,
  };
}

describe('runProcess', () => {
  test('GIVEN SIGTERM THEN every component stops in the one order, closing last-started first, and the exit code is 0', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const calls: string[] = [];
    const httpDrained = deferred();
    const drainStarted = deferred();
    let reasonSeen: string | undefined;
    const started = deferred();
    const running = runProcess(
      options(signals, exits, {
        onShutdown: (reason) => {
          reasonSeen = reason;
        },
        async start(proc) {
          proc.add(recorder('metrics', calls, { close: true }));
          proc.add(recorder('service', calls, { close: true }));
          proc.add(
            recorder('http', calls, {
              stopAccepting: true,
              drain: () => {
                drainStarted.resolve();
                return httpDrained.promise;
              },
            }),
          );
          proc.add(recorder('discord', calls, { stopAccepting: true, disconnect: async () => {} }));
          started.resolve();
        },
      }),
    );
    await started.promise;
    assert.deepEqual(calls, [], 'nothing stops before a signal');
    signals.emit('SIGTERM', 'SIGTERM');
    await drainStarted.promise;
    assert.deepEqual(
      [...calls].sort(),
      ['discord.stopAccepting', 'http.drain', 'http.stopAccepting'],
      'while answers drain, the bots have not logged out and nothing is closed',
    );
    httpDrained.resolve();
    assert.equal(await running, 0);
    assert.equal(reasonSeen, 'SIGTERM');
    assert.deepEqual(calls.slice(0, 2).sort(), ['discord.stopAccepting', 'http.stopAccepting']);
    assert.deepEqual(calls.slice(2), ['http.drain', 'discord.disconnect', 'service.close', 'metrics.close']);
    assert.deepEqual(exits, []);
    assert.equal(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT'), 0, 'signal handlers removed');
  });

  test('GIVEN a step that fails THEN the later steps still run and the process exits 0', async () => {
    const signals = new EventEmitter();
    const calls: string[] = [];
    const running = runProcess(
      options(signals, [], {
        async start(proc) {
          proc.add(recorder('service', calls, { close: true }));
          proc.add(
            recorder('slack', calls, {
              disconnect: async () => {
                throw new Error('socket already gone');
              },
            }),
          );
          proc.shutdown('test');
        },
      }),
    );
    assert.equal(await running, 0);
    assert.deepEqual(calls, ['slack.disconnect', 'service.close']);
  });

  test('GIVEN a start that fails half-way THEN what had started is stopped and the error is thrown', async () => {
    const signals = new EventEmitter();
    const calls: string[] = [];
    const boom = new Error('discord login refused');
    await assert.rejects(
      runProcess(
        options(signals, [], {
          async start(proc) {
            proc.add(recorder('service', calls, { close: true }));
            proc.add(recorder('http', calls, { stopAccepting: true, drain: async () => {} }));
            throw boom;
          },
        }),
      ),
      (err) => err === boom,
    );
    assert.deepEqual(calls, ['http.stopAccepting', 'http.drain', 'service.close']);
  });

  test('GIVEN a second signal while answers drain THEN the process exits at once with 130', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const calls: string[] = [];
    const stuck = deferred();
    const draining = deferred();
    const running = runProcess(
      options(signals, exits, {
        exit: (code) => {
          exits.push(code);
          stuck.resolve();
        },
        async start(proc) {
          proc.add(
            recorder('http', calls, {
              drain: () => {
                draining.resolve();
                return stuck.promise;
              },
            }),
          );
        },
      }),
    );
    signals.emit('SIGINT', 'SIGINT');
    await draining.promise;
    signals.emit('SIGINT', 'SIGINT');
    assert.deepEqual(exits, [130]);
    await running;
  });

  test('GIVEN a shutdown that outlives the grace period THEN the process exits with 1', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const stuck = deferred();
    const running = runProcess(
      options(signals, exits, {
        graceMs: 20,
        exit: (code) => {
          exits.push(code);
          stuck.resolve();
        },
        async start(proc) {
          // Like a request that never ends, it holds the event loop open until the process exits.
          const socketLike = setInterval(() => {}, 1000);
          void stuck.promise.then(() => clearInterval(socketLike));
          proc.add({ name: 'stuck', drain: () => stuck.promise });
          proc.shutdown('test');
        },
      }),
    );
    await running;
    assert.deepEqual(exits, [1]);
  });

  test('GIVEN a signal while start-up hangs (a login that never answers) THEN the grace period still ends the process', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const login = deferred();
    const startedLogin = deferred();
    const running = runProcess(
      options(signals, exits, {
        graceMs: 20,
        exit: (code) => {
          exits.push(code);
          login.resolve();
        },
        async start() {
          const socketLike = setInterval(() => {}, 1000);
          startedLogin.resolve();
          await login.promise;
          clearInterval(socketLike);
        },
      }),
    );
    await startedLogin.promise;
    signals.emit('SIGTERM', 'SIGTERM');
    await running;
    assert.deepEqual(exits, [1]);
  });

  test('GIVEN the HTTP server and bot mappings THEN close() starts in step 1 and is awaited in step 2; stop() in step 1 and 3', async () => {
    const calls: string[] = [];
    const httpClosed = deferred();
    const http = httpComponent({
      close: () => {
        calls.push('http.close');
        return httpClosed.promise;
      },
    });
    const botStopped = deferred();
    const bot = chatComponent('discord', {
      stop: () => {
        calls.push('discord.stop');
        return botStopped.promise;
      },
    });
    const service = closeComponent('service', () => void calls.push('service.close'));
    await http.stopAccepting?.();
    await bot.stopAccepting?.();
    assert.deepEqual(calls, ['http.close', 'discord.stop'], 'both begin at once, without waiting');
    let drained = false;
    const draining = http.drain?.().then(() => {
      drained = true;
    });
    await Promise.resolve();
    assert.equal(drained, false, 'drain waits for the server to finish its requests');
    httpClosed.resolve();
    await draining;
    assert.equal(drained, true);
    botStopped.resolve();
    await bot.disconnect?.();
    await service.close?.();
    assert.deepEqual(calls, ['http.close', 'discord.stop', 'service.close'], 'each is called once');
  });
});
