/**
 * How the pieces every entry point starts map onto runProcess's four shutdown steps.
 */
import type { ProcessComponent } from './process.js';

/**
 * The HTTP server: `close()` stops listening at once (step 1) and resolves when in-flight
 * requests have finished (step 2, bounded by the server's own close grace).
 */
export function httpComponent(http: { close(): Promise<void> }): ProcessComponent {
  let closing: Promise<void> | undefined;
  return {
    name: 'http',
    stopAccepting() {
      closing = http.close();
      // Awaited in drain(); don't let a failure surface as an unhandled rejection before that.
      closing.catch(() => {});
    },
    drain: () => closing ?? http.close(),
  };
}

/**
 * A chat bot whose `stop()` refuses new events synchronously (step 1), lets its in-flight answers
 * finish and then logs out (step 3).
 */
export function chatComponent(name: string, bot: { stop(): Promise<void> }): ProcessComponent {
  let stopping: Promise<void> | undefined;
  return {
    name,
    stopAccepting() {
      stopping = bot.stop();
      stopping.catch(() => {});
    },
    disconnect: () => stopping ?? bot.stop(),
  };
}

/** Something that is only closed, in step 4 (the service with its catalog and embedder, metrics). */
export function closeComponent(name: string, close: () => void | Promise<void>): ProcessComponent {
  return { name, close: async () => close() };
}
