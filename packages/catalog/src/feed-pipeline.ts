/**
 * The bounded pipeline of a feed run: up to `concurrency` products in flight (each downloads its
 * image, then waits for an embed slot), so downloads keep going while images are embedded and
 * at most `concurrency` images are held in memory. Finished products are committed in groups:
 * as soon as `batchSize` of them carry a new vector (searchable at once), or `lightGroup` in all.
 */

export interface PipelineOptions<J, O> {
  /** Products in flight at most. */
  concurrency: number;
  /** Vector-carrying outcomes per commit. */
  batchSize: number;
  /** Outcomes per commit at most when none carries a vector (304s, relabels, failures). */
  lightGroup: number;
  /** Checked before each new job: true stops launching (the jobs in flight finish and are committed). */
  shouldStop: () => boolean;
  /** One product. A rejection is fatal to the run (per-product failures are outcomes). */
  run: (job: J) => Promise<O>;
  /** True for an outcome with a new vector. */
  heavy: (outcome: O) => boolean;
  /** Commits a group (synchronously: one transaction). */
  commit: (outcomes: O[]) => void;
}

/**
 * Runs every job of `jobs` through `run` and hands the outcomes to `commit`. Resolves with
 * `stopped` = true when `shouldStop` ended it early. A rejected job or a failed commit stops
 * launching, lets the jobs in flight finish (committed unless a commit failed), then rejects
 * with the first error.
 */
export function runPipeline<J, O>(jobs: Iterator<J>, o: PipelineOptions<J, O>): Promise<{ stopped: boolean }> {
  const concurrency = Math.max(1, o.concurrency);
  const batchSize = Math.max(1, o.batchSize);
  const lightGroup = Math.max(batchSize, o.lightGroup);
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    let exhausted = false;
    let stopped = false;
    let fatal: { err: unknown } | undefined;
    let commitFailed = false;
    let settled = false;
    let ready: O[] = [];
    let heavy = 0;

    const flush = (all: boolean): void => {
      if (commitFailed || ready.length === 0) return;
      if (!all && heavy < batchSize && ready.length < lightGroup) return;
      const group = ready;
      ready = [];
      heavy = 0;
      try {
        o.commit(group);
      } catch (err) {
        commitFailed = true;
        fatal ??= { err };
      }
    };

    const next = (): { job: J } | undefined => {
      if (exhausted) return undefined;
      try {
        const r = jobs.next();
        if (r.done === true) {
          exhausted = true;
          return undefined;
        }
        return { job: r.value };
      } catch (err) {
        exhausted = true;
        fatal ??= { err };
        return undefined;
      }
    };

    const pump = (): void => {
      if (settled) return;
      flush(false);
      while (fatal === undefined && !stopped && inFlight < concurrency) {
        if (o.shouldStop()) {
          stopped = true;
          break;
        }
        const n = next();
        if (n === undefined) break;
        launch(n.job);
      }
      if (inFlight > 0) return;
      flush(true);
      settled = true;
      if (fatal !== undefined) reject(fatal.err);
      else resolve({ stopped: stopped && !exhausted });
    };

    const launch = (job: J): void => {
      inFlight++;
      o.run(job)
        .then(
          (outcome) => {
            ready.push(outcome);
            if (o.heavy(outcome)) heavy++;
          },
          (err: unknown) => {
            fatal ??= { err };
          },
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    };

    pump();
  });
}
