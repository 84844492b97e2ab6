/**
 * Readiness (`GET /readyz`): whether this replica should get traffic now. Liveness (`/healthz`)
 * only says the process answers; readiness also asks its dependencies: the database, Redis, and
 * whether the in-memory index is loaded (and at which catalog version).
 */
import { withDeadline } from './deadline.js';

/** One check of `/readyz`. */
export interface ReadinessCheck {
  ok: boolean;
  /** A short, operator-facing note: "version 12, 1731 items", "no answer within 2000 ms"… */
  detail?: string;
}

export interface Readiness {
  /** True when every check is ok. */
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

/** Runs a process's readiness checks; what `/readyz` serves. */
export type ReadinessProbe = () => Promise<Readiness>;

/**
 * A probe over named checks, run together: a check that throws, or has not answered after
 * `timeoutMs`, is not ok (with the reason as its detail). Ready when every check is ok.
 */
export function readinessProbe(
  checks: Record<string, () => ReadinessCheck | Promise<ReadinessCheck>>,
  options: { timeoutMs?: number } = {},
): ReadinessProbe {
  const timeoutMs = options.timeoutMs ?? 2000;
  return async () => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, ReadinessCheck]> => {
        try {
          return [name, await withDeadline(Promise.resolve().then(check), timeoutMs)];
        } catch (err) {
          return [name, { ok: false, detail: err instanceof Error ? err.message : String(err) }];
        }
      }),
    );
    const result = Object.fromEntries(entries);
    return { ready: entries.every(([, c]) => c.ok), checks: result };
  };
}
