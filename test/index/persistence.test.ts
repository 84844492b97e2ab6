/**
 * Saving off the main thread: snapshots taken at save() time, searches and updates during a
 * save, saves in call order, kill -9 mid-save, stale temp files, and the file format versions.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLookalikeError } from '@lookalike/core';
import { createIndex, FORMAT_VERSION, loadIndex, type VectorIndex } from '@lookalike/index';
import { vectorFor } from './fixtures/vector-for.js';
import { randomUnitVectors } from './synthetic.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `index-persistence-${process.pid}`);
const children: ChildProcess[] = [];
before(() => mkdirSync(tmp, { recursive: true }));
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function isCode(code: string) {
  return (err: unknown) => {
    assert.ok(isLookalikeError(err), `expected a LookalikeError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

const d = 256;
const vectors = randomUnitVectors(3000, d, 41);
const ids = vectors.map((_, i) => 5 + i * 2);
const queries = randomUnitVectors(20, d, 42);

describe('save works on a snapshot', () => {
  for (const kind of ['flat', 'hnsw'] as const) {
    test(`GIVEN a ${kind} save in flight THEN searches answer, updates go on, and the file holds the state at save() time`, async () => {
      const index = createIndex({ kind, dimension: d, threads: 1, compactAt: false });
      index.add(ids.slice(0, 2000), vectors.slice(0, 2000));
      index.remove(ids.slice(0, 100)); // hnsw: tombstones go into the file too
      const expected = index.searchBatch(queries, 6);
      const expectedOne = queries.map((q) => index.search(q, 6)); // batches may use BLAS: not bit-equal to single queries
      const expectedIds = index.ids();
      const file = join(tmp, `snapshot-${kind}.lkidx`);
      let settled = false;
      const saving = index.save(file).finally(() => {
        settled = true;
      });
      // while the worker hashes and writes: answers, then changes made after the snapshot
      let turns = 0;
      let changed = false;
      let now = expectedOne;
      while (!settled) {
        const q = turns % queries.length;
        assert.deepEqual(index.search(queries[q] as Float32Array, 6), now[q]);
        if (!changed) {
          index.add(ids.slice(2000, 2100), vectors.slice(2000, 2100));
          index.remove(ids.slice(100, 200));
          changed = true;
          // flat: the removed ids are tombstones until the save has read its snapshot
          if (kind === 'flat') assert.equal(index.stats().tombstones, 100);
          now = queries.map((x) => index.search(x, 6));
          assert.notDeepEqual(now, expectedOne);
          for (const hits of now) for (const h of hits) assert.ok(h.id < ids[100]! || h.id >= ids[200]!);
        }
        turns++;
        await new Promise((r) => setImmediate(r));
      }
      await saving;
      assert.ok(changed, 'the changes were made while the save was in flight');
      assert.equal(index.stats().tombstones, kind === 'flat' ? 0 : 200);
      if (kind === 'flat') {
        // the deferred removals were applied: every live vector still maps to its own id
        for (const id of index.ids()) {
          const i = ids.indexOf(id);
          assert.equal(index.search(vectors[i] as Float32Array, 1)[0]?.id, id);
        }
      }
      const loaded = await loadIndex(file);
      assert.deepEqual(loaded.ids(), expectedIds);
      assert.equal(loaded.size(), 1900);
      assert.deepEqual(loaded.searchBatch(queries, 6), expected);
      assert.equal(index.size(), 1900);
      assert.equal(index.has(ids[150] as number), false);
      assert.equal(index.has(ids[2050] as number), true);
      await loaded.close();
      await index.close();
    });
  }

  test('GIVEN saves to one path without waiting THEN they complete in call order and the last snapshot wins', async () => {
    const index = createIndex({ kind: 'flat', dimension: d });
    const file = join(tmp, 'order.lkidx');
    const order: number[] = [];
    const saves: Promise<void>[] = [];
    for (let i = 0; i < 4; i++) {
      index.add(ids.slice(i * 100, (i + 1) * 100), vectors.slice(i * 100, (i + 1) * 100));
      saves.push(index.save(file).then(() => void order.push(i)));
    }
    await Promise.all(saves);
    await index.whenIdle();
    assert.deepEqual(order, [0, 1, 2, 3]);
    assert.equal((await loadIndex(file)).size(), 400);
    assert.deepEqual(
      readdirSync(tmp).filter((f) => f.startsWith('order.lkidx.tmp-')),
      [],
      'no temp files left behind',
    );
  });

  test('GIVEN a directory that cannot be written THEN save rejects with INTERNAL and the index is unchanged', async () => {
    const index = createIndex({ kind: 'flat', dimension: d });
    index.add(ids.slice(0, 10), vectors.slice(0, 10));
    await assert.rejects(index.save(join(tmp, 'missing-dir', 'x.lkidx')), isCode('INTERNAL'));
    assert.equal(index.size(), 10);
    await index.save(join(tmp, 'after-failure.lkidx'));
    assert.equal((await loadIndex(join(tmp, 'after-failure.lkidx'))).size(), 10);
  });
});

/** Starts the save loop and resolves with the child, its output lines, and its pid once its first save is done. */
function startSaveLoop(file: string, n: number, dim: number) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(root, 'test/index/fixtures/save-loop.ts'),
      file,
      String(n),
      String(dim),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (b) => {
    stderr += b;
  });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const firstSave = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('saved ')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`save loop exited (${code ?? signal}) early: ${stderr}`)));
  });
  return { child, lines, exited, firstSave };
}

describe('kill -9 during a save', () => {
  test('GIVEN a process killed while it writes its index THEN the previous file loads with its content and the stale temp file is ignored, then cleaned up', async () => {
    const n = 30_000;
    const dim = 512; // ~61 MB of vectors: hashing, writing and fsync take long enough to land in
    const file = join(tmp, 'killed.lkidx');
    const tempOf = () => readdirSync(tmp).filter((f) => f.startsWith('killed.lkidx.tmp-'));
    let attempt = 0;
    let leftover: string | undefined;
    let lastSaved = -1;
    let killedPid = 0;
    // The kill lands while a temp file is being written; in the unlikely case it lands just after
    // the rename (no temp file left), try again.
    while (leftover === undefined && attempt < 3) {
      attempt++;
      for (const f of tempOf()) rmSync(join(tmp, f));
      const run = startSaveLoop(file, n, dim);
      await run.firstSave;
      const full = statSync(file).size;
      // wait for a later save's temp file to exist and be partly written, then kill -9
      for (;;) {
        const part = tempOf()
          .map((f) => ({ f, size: statSync(join(tmp, f), { throwIfNoEntry: false })?.size ?? 0 }))
          .find((t) => t.size > 0 && t.size < full);
        if (part) {
          run.child.kill('SIGKILL');
          break;
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      await run.exited;
      assert.equal(run.child.signalCode, 'SIGKILL');
      killedPid = run.child.pid as number;
      const saved = run.lines.filter((l) => l.startsWith('saved ')).map((l) => Number(l.slice(6)));
      lastSaved = saved.at(-1) as number;
      leftover = tempOf()[0];
    }
    assert.ok(leftover, 'a temp file was left by the killed save');
    assert.ok(leftover.includes(`.tmp-${killedPid}-`));

    // the index file is the last completed save, intact; the temp file is not read
    const loaded = await loadIndex(file, { dimension: dim });
    assert.equal(loaded.size(), lastSaved);
    assert.ok(lastSaved >= n);
    for (const id of [0, 1, 777, n - 1, lastSaved - 1]) {
      const top = loaded.search(vectorFor(id, dim), 1)[0];
      assert.equal(top?.id, id);
      assert.ok((top?.distance ?? 1) < 1e-4);
    }
    assert.equal(loaded.has(lastSaved), false, 'nothing of the interrupted save');

    // a temp file of a live process is left alone; the next save removes the dead process's
    const liveTemp = `killed.lkidx.tmp-${process.ppid}-00000000`;
    writeFileSync(join(tmp, liveTemp), 'another process is writing this');
    const fakeDead = 'killed.lkidx.tmp-999999999-deadbeef';
    writeFileSync(join(tmp, fakeDead), readFileSync(file).subarray(0, 1000));
    loaded.add([lastSaved], [vectorFor(lastSaved, dim)]);
    await loaded.save(file);
    assert.deepEqual(tempOf().sort(), [liveTemp]);
    assert.equal((await loadIndex(file)).size(), lastSaved + 1);
    rmSync(join(tmp, liveTemp));
  });
});

describe('file format', () => {
  async function saved(kind: 'flat' | 'hnsw', name: string): Promise<{ index: VectorIndex; file: string }> {
    const index = createIndex({ kind, dimension: d, threads: 1, compactAt: false });
    index.add(ids.slice(0, 300), vectors.slice(0, 300));
    const file = join(tmp, name);
    await index.save(file);
    return { index, file };
  }

  /** Rewrites a file's JSON header (the checksums cover the ids and FAISS sections only). */
  function rewriteHeader(file: string, edit: (h: Record<string, unknown>) => void): void {
    const bytes = readFileSync(file);
    const len = bytes.readUInt32LE(8);
    const header = JSON.parse(bytes.toString('utf8', 12, 12 + len)) as Record<string, unknown>;
    edit(header);
    const json = Buffer.from(JSON.stringify(header));
    const lead = Buffer.alloc(12);
    lead.write('LKLIDX01', 0, 'latin1');
    lead.writeUInt32LE(json.length, 8);
    writeFileSync(file, Buffer.concat([lead, json, bytes.subarray(12 + len)]));
  }

  test(`GIVEN a format 1 file (before tombstones) THEN it still loads; format ${FORMAT_VERSION} is what save writes`, async () => {
    const { index, file } = await saved('hnsw', 'v1.lkidx');
    const header = JSON.parse(readFileSync(file).toString('utf8', 12, 12 + readFileSync(file).readUInt32LE(8)));
    assert.equal(header.format, FORMAT_VERSION);
    rewriteHeader(file, (h) => {
      h.format = 1;
      delete h.live;
    });
    const loaded = await loadIndex(file);
    assert.equal(loaded.size(), 300);
    assert.deepEqual(loaded.searchBatch(queries, 6), index.searchBatch(queries, 6));
  });

  test('GIVEN an unknown format, a wrong live count or a tombstone in a format 1 file THEN INDEX_CORRUPT', async () => {
    const { file } = await saved('flat', 'future.lkidx');
    rewriteHeader(file, (h) => {
      h.format = FORMAT_VERSION + 1;
    });
    await assert.rejects(loadIndex(file), isCode('INDEX_CORRUPT'));

    const { file: f2 } = await saved('flat', 'live.lkidx');
    rewriteHeader(f2, (h) => {
      h.live = 299;
    });
    await assert.rejects(loadIndex(f2), isCode('INDEX_CORRUPT'));

    const { index, file: f3 } = await saved('hnsw', 'tomb-v1.lkidx');
    index.remove([ids[0] as number]);
    await index.save(f3);
    rewriteHeader(f3, (h) => {
      h.format = 1;
      delete h.live;
    });
    await assert.rejects(loadIndex(f3), isCode('INDEX_CORRUPT'));
    assert.ok(existsSync(f3));
  });
});
