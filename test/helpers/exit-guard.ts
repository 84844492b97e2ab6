/**
 * Preloaded into every test file's process by scripts/test.mjs (instead of --test-force-exit):
 * once the file's tests and all its hooks are done, a process that is still alive EXIT_GRACE_MS later
 * leaks a handle. It then prints what holds the event loop and exits with 1, so the file fails
 * with the culprit named instead of hanging the run (or being killed silently).
 *
 * The timer is unref'd: a process without leaks exits before it fires.
 */
import { after } from 'node:test';

/** How long a finished test file's process may take to exit on its own. */
const EXIT_GRACE_MS = 10_000;

/** One line per handle that keeps the loop alive (the process's own stdio left out). */
function describeHandles(): string[] {
  const lines: string[] = [];
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  for (const h of handles) {
    const any = h as Record<string, unknown> & { constructor?: { name?: string } };
    const name = any.constructor?.name ?? typeof h;
    const fd = (any._handle as { fd?: number } | undefined)?.fd;
    if ((name === 'Socket' || name === 'WriteStream' || name === 'ReadStream') && fd !== undefined && fd <= 2) continue;
    let info = '';
    if (name === 'Socket')
      info = `${String(any.localAddress)}:${String(any.localPort)} → ${String(any.remoteAddress)}:${String(any.remotePort)}`;
    else if (name === 'Server') info = JSON.stringify((any as unknown as { address(): unknown }).address());
    else if (name === 'ChildProcess') info = `pid ${String(any.pid)} ${String(any.spawnfile)}`;
    else if (name === 'Timeout')
      info = `${String(any._idleTimeout)} ms: ${String(any._onTimeout).slice(0, 160).replace(/\s+/g, ' ')}`;
    lines.push(`  ${name} ${info}`.trimEnd());
  }
  return lines;
}

// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by node's test runner in the processes it runs files in
if (process.env.NODE_TEST_CONTEXT?.startsWith('child') === true) {
  // Registered before the file's own top-level after() hooks, so it runs first; it then appends the
  // real check to the root's hooks, which node runs in order: the check starts after every one of them.
  after((t) => {
    // The root's context is a TestContext (a suite's would have no after()).
    if ('after' in t) t.after(arm);
    else arm();
  });
}

function arm(): void {
  const timer = setTimeout(() => {
    process.stderr.write(
      [
        `exit-guard: this test file's process is still alive ${EXIT_GRACE_MS / 1000} s after its tests finished.`,
        `  resources: ${JSON.stringify(process.getActiveResourcesInfo())}`,
        ...describeHandles(),
        '',
      ].join('\n'),
    );
    process.exit(1);
  }, EXIT_GRACE_MS);
  timer.unref();
}
