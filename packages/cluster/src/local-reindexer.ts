/**
 * The reindexer of a process with `DATABASE_URL` alone: the whole run in this process. Scan,
 * plan and the metadata-only writes (prepare.ts), then every file through the embedder
 * (`embedInWindow`: a bounded window of calls, coalesced into batches), each group of
 * `batchSize` written with `upsertItems` in one transaction. Single flight in this process and,
 * through a PostgreSQL advisory lock, across processes.
 */
import { readFile } from 'node:fs/promises';
import {
  type EmbedJob,
  type EmbedOutcome,
  embedInWindow,
  ProgressTracker,
  type ScannedFile,
  sha256Hex,
} from '@lookalike/catalog';
import {
  type Logger,
  LookalikeError,
  type ReindexProgress,
  type ReindexRunOptions,
  silentLogger,
} from '@lookalike/core';
import type { ItemInput } from '@lookalike/pg';
import { tryLockReindex } from './local-lock.js';
import { modelKey } from './model.js';
import type { EmbedTask } from './plan.js';
import { applyPrepared, closedError, type PrepareContext, prepareRun } from './prepare.js';
import { RunCounts } from './summary.js';
import type { ClusterReindexSummary, LocalReindexerOptions, Reindexer } from './types.js';
import { db, maxRemovalsError } from './unavailable.js';

const DEFAULT_BATCH_SIZE = 8;

/** How often a running run's counts are saved to its row. */
const COUNTS_EVERY_MS = 5000;

/**
 * The in-process reindexer of a PostgreSQL catalog.
 * @throws (from run) REINDEX_IN_PROGRESS, REINDEX_MASS_REMOVAL, BAD_REQUEST (maxRemovals),
 *   CATALOG_NOT_FOUND, LABELS_INVALID, DATABASE_UNAVAILABLE, INTERNAL (closed)
 */
export function createLocalReindexer(o: LocalReindexerOptions): Reindexer {
  const logger = (o.logger ?? silentLogger).child({ component: 'local-reindexer', catalog: o.name });
  const batchSize = Math.max(1, o.batchSize ?? DEFAULT_BATCH_SIZE);
  const model = modelKey(o.weights);
  let running: Promise<ClusterReindexSummary> | undefined;
  let tracker: ProgressTracker | undefined;
  let closing = false;
  /** Items searchable now, as the running run counts them (read when progress is emitted). */
  let searchable: () => number = () => 0;

  const runOnce = async (
    t: ProgressTracker,
    options: ReindexRunOptions,
    log: Logger,
  ): Promise<ClusterReindexSummary> => {
    const lock = await db('locking the reindex', () => tryLockReindex(o.pg, o.name, logger));
    if (lock === undefined) {
      throw new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex of this catalog is running in another process', {
        details: { progress: null },
      });
    }
    let runId: number | undefined;
    let counts: RunCounts | undefined;
    try {
      const ctx: PrepareContext = {
        pg: o.pg,
        catalog: o.name,
        model,
        imagesDir: o.imagesDir,
        labelsPath: o.labelsPath,
        tracker: t,
        logger: log,
        options,
        hashNew: false,
        closing: () => closing,
        onListed: (n) => {
          searchable = () => n;
        },
      };
      const prepared = await prepareRun(ctx);
      const c = new RunCounts(prepared);
      counts = c;
      // A run a killed process left running is continued (the lock says nobody else runs it).
      const previous = await db('reading runs', () => o.pg.store.runningRun(o.name));
      const resumed = previous !== undefined;
      const id = previous?.id ?? (await db('starting a run', () => o.pg.store.startRun(o.name)));
      runId = id;
      if (resumed) log.info({ runId: id }, 'resuming a run left running');
      await applyPrepared(ctx, prepared);

      const tasks = prepared.toEmbed;
      t.expected = prepared.expected;
      t.phase('embedding', tasks.length);
      const searchableNow = () => prepared.searchable + c.newlySearchable;
      searchable = searchableNow;
      const taskOf = new Map<EmbedJob, EmbedTask>();
      const jobs: EmbedJob[] = tasks.map((task) => {
        const job: EmbedJob = { file: task.file, metadata: '', kind: task.kind === 'added' ? 'added' : 'updated' };
        taskOf.set(job, task);
        return job;
      });
      let done = 0;
      let writeError: { err: unknown } | undefined;
      let writes: Promise<void> = Promise.resolve();
      let countsSavedAt = Date.now();
      const write = async (outcomes: EmbedOutcome[]): Promise<void> => {
        const rows: ItemInput[] = [];
        const rowTasks: EmbedTask[] = [];
        for (const out of outcomes) {
          const task = taskOf.get(out.job)!;
          if (out.ok) {
            rows.push({
              sourceKey: task.sourceKey,
              contentHash: out.sha256,
              expectedHash: task.expectedHash,
              metadata: { ...task.metadata },
              vector: out.vector,
              model,
            });
            rowTasks.push(task);
          } else {
            await recordTaskFailure(o, task, out.code, out.message);
            c.failedTask(task);
            if (t.expected !== null && task.kind === 'added') t.expected--;
            log.debug({ path: task.sourceKey, code: out.code }, 'skipped unreadable image');
          }
        }
        if (rows.length > 0) {
          const r = await db('writing items', () => o.pg.store.upsertItems(o.name, rows));
          const stale = new Set(r.stale.map((s) => s.sourceKey));
          rowTasks.forEach((task) => {
            if (stale.has(task.sourceKey)) c.superseded++;
            else c.written(task);
          });
        }
        done += outcomes.length;
        t.update(done);
        if (Date.now() - countsSavedAt >= COUNTS_EVERY_MS) {
          countsSavedAt = Date.now();
          await o.pg.store.updateRunCounts(id, c.record()).catch((err: unknown) => {
            log.warn({ err }, 'could not save the run counts');
          });
        }
      };
      const { stopped } = await embedInWindow(
        jobs,
        {
          embedder: o.embedder,
          window: 2 * batchSize,
          batchSize,
          shouldStop: () => closing || writeError !== undefined,
          onSent: () => {
            c.embedded++;
          },
        },
        (outcomes) => {
          // Writes go one after another; the first failure stops new embeds.
          writes = writes.then(() =>
            writeError === undefined
              ? write(outcomes).catch((err: unknown) => {
                  writeError ??= { err };
                })
              : undefined,
          );
        },
      );
      await writes;
      if (writeError !== undefined) throw writeError.err;
      if (stopped) throw closedError();

      await db('finishing the run', () => o.pg.store.finishRun(id, 'done', c.record()));
      const version = await db('reading the version', () => o.pg.store.catalogVersion(o.name));
      t.phase('done', searchableNow(), searchableNow());
      const summary = c.summary({ startedAt: t.startedAt, runId: id, resumed, version });
      log.info({ ...summary, failedFiles: summary.failedFiles.slice(0, 5) }, 'reindex finished');
      return summary;
    } catch (err) {
      if (runId !== undefined) {
        const status = closing ? 'cancelled' : 'failed';
        const id = runId;
        await o.pg.store.finishRun(id, status, counts?.record() ?? {}).catch(() => {});
      }
      throw err;
    } finally {
      await lock.release();
    }
  };

  return {
    run(onProgress?: (p: ReindexProgress) => void, options: ReindexRunOptions = {}) {
      if (closing) return Promise.reject(new LookalikeError('INTERNAL', 'Reindexer is closed'));
      if (running !== undefined) {
        return Promise.reject(
          new LookalikeError('REINDEX_IN_PROGRESS', 'A reindex is already running', {
            details: { progress: tracker?.current() ?? null },
          }),
        );
      }
      const bad = maxRemovalsError(options.maxRemovals);
      if (bad !== undefined) return Promise.reject(bad);
      const log = logger.child({ op: 'reindex' });
      searchable = () => 0;
      const t = new ProgressTracker({
        startedAt: Date.now(),
        searchable: () => searchable(),
        emit: (p) => {
          if (onProgress === undefined) return;
          try {
            onProgress(p);
          } catch (err) {
            log.warn({ err }, 'progress listener threw');
          }
        },
      });
      tracker = t;
      const run = Promise.resolve()
        .then(() => runOnce(t, options, log))
        .finally(() => {
          running = undefined;
          tracker = undefined;
        });
      running = run;
      return run;
    },
    progress() {
      return tracker?.current() ?? null;
    },
    async close() {
      closing = true;
      await running?.catch(() => {});
    },
  };
}

/**
 * Records a file that could not be embedded. A changed file that no longer decodes leaves the
 * catalog (its old vector would answer for content that is gone), as in the SQLite catalog.
 */
async function recordTaskFailure(o: LocalReindexerOptions, task: EmbedTask, code: string, message: string) {
  const contentHash = task.contentHash ?? (await hashOf(task.file));
  if (task.kind === 'updated') await db('removing an item', () => o.pg.store.removeItems(o.name, [task.sourceKey]));
  await db('recording a failure', () =>
    o.pg.store.recordFailure(o.name, {
      sourceKey: task.sourceKey,
      code,
      message,
      ...(contentHash === undefined ? {} : { contentHash }),
    }),
  );
}

async function hashOf(file: ScannedFile): Promise<string | undefined> {
  try {
    return await sha256Hex(await readFile(file.absPath));
  } catch {
    return undefined;
  }
}
