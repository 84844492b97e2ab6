/** The test hook both worker threads answer to: die at once, or throw an uncaught error. */
import type { CrashMode } from './protocol.js';

export function crashOnRequest(mode: CrashMode, thread: string): void {
  if (mode === 'exit') process.exit(70);
  setImmediate(() => {
    throw new Error(`${thread} crashed on request (test hook)`);
  });
}
