/**
 * The counts of a PostgreSQL-backed run, kept while it goes, and the summary it returns.
 */

import type { EmbedTask } from './plan.js';
import type { PreparedRun } from './prepare.js';
import type { ClusterReindexSummary } from './types.js';

const FAILED_FILES_CAP = 50;

export class RunCounts {
  added = 0;
  updated = 0;
  embedded = 0;
  superseded = 0;
  failed: string[] = [];
  /** Items written that had no vector of the model before (they became searchable). */
  newlySearchable = 0;

  constructor(readonly prepared: PreparedRun) {
    for (const f of prepared.failed) this.failed.push(f.sourceKey);
  }

  /** A task whose vector was written. */
  written(task: EmbedTask): void {
    if (task.kind === 'added') this.added++;
    else this.updated++;
    if (!task.searchable) this.newlySearchable++;
  }

  failedTask(task: EmbedTask): void {
    this.failed.push(task.sourceKey);
  }

  /** What the run row's counts hold. */
  record(): Record<string, number> {
    const p = this.prepared;
    return {
      total: p.total,
      added: this.added,
      updated: this.updated,
      removed: p.removals.length,
      unchanged: p.unchanged,
      relabelled: p.relabelled,
      failed: this.failed.length,
      embedded: this.embedded,
      superseded: this.superseded,
      planned: p.toEmbed.length,
    };
  }

  summary(o: { startedAt: number; runId: number; resumed: boolean; version: number }): ClusterReindexSummary {
    const p = this.prepared;
    return {
      added: this.added,
      updated: this.updated,
      removed: p.removals.length,
      unchanged: p.unchanged,
      failed: this.failed.length,
      failedFiles: this.failed.slice(0, FAILED_FILES_CAP),
      durationMs: Date.now() - o.startedAt,
      total: p.total,
      embedded: this.embedded,
      relabelled: p.relabelled,
      runId: o.runId,
      resumed: o.resumed,
      version: o.version,
    };
  }
}
