/** A bound on how long a call to a shared store (Redis) may take before the caller falls back. */

/** Thrown by {@link withDeadline} when the call did not settle in time. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/**
 * Resolves or rejects as `task` does, or rejects with {@link DeadlineExceeded} after `ms`. The
 * task itself is not cancelled (its late result is ignored).
 */
export async function withDeadline<T>(task: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(ms)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([task, expired]);
  } finally {
    clearTimeout(timer);
    // A late rejection of the abandoned task must not surface as unhandled.
    task.catch(() => {});
  }
}
