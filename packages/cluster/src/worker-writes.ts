/**
 * The worker's PostgreSQL writes, coalesced: items finished while a write is in flight go
 * together in the next `upsertItems` (one transaction), so many jobs in flight make few
 * transactions. Each job's promise settles when its own row is committed (or its write failed).
 */
import type { ItemInput, PgStore } from '@lookalike/pg';

export interface UpsertBatcher {
  /** Resolves `written`, or `stale` when the item no longer holds the planned content. */
  submit(row: ItemInput): Promise<'written' | 'stale'>;
}

interface Waiting {
  row: ItemInput;
  resolve: (v: 'written' | 'stale') => void;
  reject: (err: unknown) => void;
}

export function createUpsertBatcher(store: PgStore, catalog: string, maxRows = 64): UpsertBatcher {
  const queue: Waiting[] = [];
  let inFlight = false;

  const flush = (): void => {
    if (inFlight || queue.length === 0) return;
    // One row per source key per transaction (a second one waits for the next).
    const batch: Waiting[] = [];
    const keys = new Set<string>();
    for (let i = 0; i < queue.length && batch.length < maxRows; ) {
      const w = queue[i]!;
      if (keys.has(w.row.sourceKey)) {
        i++;
        continue;
      }
      keys.add(w.row.sourceKey);
      batch.push(w);
      queue.splice(i, 1);
    }
    inFlight = true;
    store
      .upsertItems(
        catalog,
        batch.map((w) => w.row),
      )
      .then(
        (r) => {
          const stale = new Set(r.stale.map((s) => s.sourceKey));
          for (const w of batch) w.resolve(stale.has(w.row.sourceKey) ? 'stale' : 'written');
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        inFlight = false;
        flush();
      });
  };

  return {
    submit(row) {
      return new Promise((resolve, reject) => {
        queue.push({ row, resolve, reject });
        flush();
      });
    },
  };
}
