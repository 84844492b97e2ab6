/**
 * `lookalike bench search`: the real CLI on a small synthetic set prints every path (table and
 * --json), and rejects bad flags with a usage error. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/process.js';

const PATHS = ['raw-sgemv', 'faiss-flat', 'exact', 'flat-sq8', 'hnsw', 'sklearn'];

test('bench search --vectors 2000 --queries 20 prints every row', async () => {
  const r = await runCli(['bench', 'search', '--vectors', '2000', '--queries', '20']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /2000 × 2048/);
  for (const name of PATHS)
    assert.ok(
      lines.some((l) => l.startsWith(`${name} `)),
      `row ${name} in:\n${r.stdout}`,
    );
  const exact = lines.find((l) => l.startsWith('exact ')) ?? '';
  assert.match(exact, /1\.0000/, 'the exact path has recall 1 against itself');
});

test('bench search --json: { vectors, dim, paths: [{ name, p50Ms, p99Ms, ratioToRaw, recallAt6 }] }', async () => {
  const r = await runCli(['bench', 'search', '--vectors', '2000', '--queries', '20', '--dim', '256', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as {
    vectors: number;
    dim: number;
    paths: {
      name: string;
      p50Ms: number | null;
      p99Ms: number | null;
      ratioToRaw: number | null;
      recallAt6: number | null;
      note?: string;
    }[];
  };
  assert.equal(report.vectors, 2000);
  assert.equal(report.dim, 256);
  assert.deepEqual(
    report.paths.map((p) => p.name),
    PATHS,
  );
  for (const p of report.paths) {
    if (p.name === 'sklearn' && p.p50Ms === null) {
      assert.match(p.note ?? '', /not available/);
      continue;
    }
    assert.ok(typeof p.p50Ms === 'number' && p.p50Ms >= 0, `${p.name} p50`);
    assert.ok(typeof p.p99Ms === 'number' && p.p99Ms >= p.p50Ms, `${p.name} p99`);
    assert.ok(typeof p.ratioToRaw === 'number' && p.ratioToRaw > 0, `${p.name} ratio`);
  }
  const by = new Map(report.paths.map((p) => [p.name, p]));
  assert.equal(by.get('raw-sgemv')?.ratioToRaw, 1);
  assert.equal(by.get('raw-sgemv')?.recallAt6, null);
  assert.equal(by.get('exact')?.recallAt6, 1);
  assert.equal(by.get('faiss-flat')?.recallAt6, 1, 'FAISS and the exact path agree');
  assert.equal(by.get('flat-sq8')?.recallAt6, 1);
});

test('bench with a bad flag is a usage error', async () => {
  const r = await runCli(['bench', 'search', '--vectors', 'lots']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--vectors must be an integer/);
  const none = await runCli(['bench']);
  assert.equal(none.code, 2);
});
