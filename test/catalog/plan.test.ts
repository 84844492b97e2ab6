/**
 * planReindex and resolveHashed: the pure classification of a scan against the stored catalog.
 * No files, no database, no model.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FailureRow,
  type ItemRow,
  massRemovalError,
  parseLabels,
  planReindex,
  removalCount,
  resolveHashed,
  type ScannedFile,
} from '@lookalike/catalog';

function file(relPath: string, size = 100, mtimeMs = 1000): ScannedFile {
  const name = relPath.split('/').at(-1)!;
  const stem = name.replace(/\.[^.]+$/, '');
  return { id: stem, stem, relPath, absPath: `/images/${relPath}`, size, mtimeMs };
}

let nextFid = 1;
function row(relPath: string, over: Partial<ItemRow> = {}): ItemRow {
  const f = file(relPath);
  return {
    fid: nextFid++,
    path: relPath,
    id: f.id,
    size: f.size,
    mtime_ms: f.mtimeMs,
    sha256: `sha-of-${relPath}`,
    metadata: '{}',
    ...over,
  };
}

function failure(relPath: string, over: Partial<FailureRow> = {}): FailureRow {
  return { path: relPath, size: 100, mtime_ms: 1000, code: 'IMAGE_DECODE_FAILED', message: 'bad', ...over };
}

const paths = (xs: readonly { file: ScannedFile }[]) => xs.map((x) => x.file.relPath).sort();

describe('planReindex', () => {
  it('GIVEN an empty catalog THEN every scanned file is to embed as added, with its labels', () => {
    const labels = parseLabels('id,articleType\n1,Shirts\n');
    const plan = planReindex({ files: [file('1.jpg'), file('2.png')] }, { items: [], failures: [] }, labels);
    assert.deepEqual(paths(plan.toEmbed), ['1.jpg', '2.png']);
    assert.ok(plan.toEmbed.every((j) => j.kind === 'added' && j.row === undefined));
    assert.deepEqual(JSON.parse(plan.toEmbed.find((j) => j.file.id === '1')!.metadata), { articleType: 'Shirts' });
    assert.equal(plan.toEmbed.find((j) => j.file.id === '2')!.metadata, '{}');
    assert.deepEqual(
      [plan.toHash, plan.relabel, plan.deleted, plan.staleFailures, plan.knownFailures],
      [[], [], [], [], []],
    );
    assert.equal(plan.unchanged, 0);
  });

  it('GIVEN stored files with the same size and mtime THEN they are unchanged and nothing is done', () => {
    const items = [row('a.jpg'), row('b.jpg')];
    const plan = planReindex({ files: [file('a.jpg'), file('b.jpg')] }, { items, failures: [] });
    assert.equal(plan.unchanged, 2);
    assert.deepEqual([plan.toEmbed, plan.toHash, plan.relabel, plan.deleted], [[], [], [], []]);
  });

  it('GIVEN a changed size or mtime THEN the file goes to hashing with its stored row, not straight to embedding', () => {
    const a = row('a.jpg');
    const b = row('b.jpg');
    const plan = planReindex(
      { files: [file('a.jpg', 101, 1000), file('b.jpg', 100, 2000)] },
      { items: [a, b], failures: [] },
    );
    assert.deepEqual(paths(plan.toHash), ['a.jpg', 'b.jpg']);
    assert.equal(plan.toHash.find((h) => h.file.relPath === 'a.jpg')!.row, a);
    assert.deepEqual(plan.toEmbed, []);
    assert.equal(plan.unchanged, 0);
  });

  it('GIVEN new labels or a new id for an unchanged file THEN it is relabelled, not re-embedded', () => {
    const a = row('a.jpg', { metadata: '{"baseColour":"Red"}' });
    const b = row('sub/b.jpg', { id: 'b' });
    const labels = parseLabels('id,baseColour\na,Teal\n');
    const renamed = { ...file('sub/b.jpg'), id: 'sub/b' }; // a stem collision gave it a path id
    const plan = planReindex({ files: [file('a.jpg'), renamed] }, { items: [a, b], failures: [] }, labels);
    assert.equal(plan.unchanged, 2);
    assert.deepEqual(
      plan.relabel.sort((x, y) => x.fid - y.fid),
      [
        { fid: a.fid, id: 'a', relPath: 'a.jpg', metadata: '{"baseColour":"Teal"}' },
        { fid: b.fid, id: 'sub/b', relPath: 'sub/b.jpg', metadata: '{}' },
      ],
    );
    assert.deepEqual(plan.toEmbed, []);
  });

  it('GIVEN stored files that are gone THEN they are deleted', () => {
    const a = row('a.jpg');
    const gone = row('gone.jpg');
    const plan = planReindex({ files: [file('a.jpg')] }, { items: [a, gone], failures: [] });
    assert.deepEqual(plan.deleted, [gone]);
    assert.equal(plan.unchanged, 1);
  });

  it('GIVEN a file that failed before with the same size and mtime THEN it is a known failure, not retried', () => {
    const plan = planReindex({ files: [file('bad.jpg')] }, { items: [], failures: [failure('bad.jpg')] });
    assert.deepEqual(plan.knownFailures, ['bad.jpg']);
    assert.deepEqual(plan.toEmbed, []);
  });

  it('GIVEN a failed file that changed since THEN it is retried', () => {
    const plan = planReindex(
      { files: [file('bad.jpg', 200, 1000), file('worse.jpg', 100, 5000)] },
      { items: [], failures: [failure('bad.jpg'), failure('worse.jpg')] },
    );
    assert.deepEqual(paths(plan.toEmbed), ['bad.jpg', 'worse.jpg']);
    assert.deepEqual(plan.knownFailures, []);
    assert.deepEqual(plan.staleFailures, []);
  });

  it('GIVEN failure records of files that are gone THEN they are stale and dropped', () => {
    const plan = planReindex(
      { files: [file('kept.jpg')] },
      { items: [], failures: [failure('kept.jpg'), failure('x.jpg')] },
    );
    assert.deepEqual(plan.staleFailures, ['x.jpg']);
    assert.deepEqual(plan.knownFailures, ['kept.jpg']);
  });

  it('GIVEN a mixed scan THEN each file lands in exactly one bucket', () => {
    const items = [row('same.jpg'), row('touched.jpg'), row('gone.jpg')];
    const scan = [file('same.jpg'), file('touched.jpg', 100, 9999), file('new.jpg'), file('bad.jpg')];
    const plan = planReindex({ files: scan }, { items, failures: [failure('bad.jpg'), failure('old-bad.jpg')] });
    assert.deepEqual(paths(plan.toEmbed), ['new.jpg']);
    assert.deepEqual(paths(plan.toHash), ['touched.jpg']);
    assert.deepEqual(
      plan.deleted.map((r) => r.path),
      ['gone.jpg'],
    );
    assert.deepEqual(plan.knownFailures, ['bad.jpg']);
    assert.deepEqual(plan.staleFailures, ['old-bad.jpg']);
    assert.equal(plan.unchanged, 1);
  });
});

describe('resolveHashed', () => {
  it('GIVEN the same content hash THEN only size and mtime are recorded', () => {
    const r = row('a.jpg');
    const out = resolveHashed({ file: file('a.jpg', 100, 5000), row: r, metadata: '{}' }, r.sha256);
    assert.deepEqual(out, { kind: 'touched', fid: r.fid, size: 100, mtimeMs: 5000, relabel: undefined });
  });

  it('GIVEN the same hash and new labels THEN it is touched and relabelled', () => {
    const r = row('a.jpg');
    const out = resolveHashed({ file: file('a.jpg', 100, 5000), row: r, metadata: '{"usage":"Sports"}' }, r.sha256);
    assert.equal(out.kind, 'touched');
    assert.deepEqual(out.kind === 'touched' && out.relabel, {
      fid: r.fid,
      id: 'a',
      relPath: 'a.jpg',
      metadata: '{"usage":"Sports"}',
    });
  });

  it('GIVEN another hash, or an unreadable file THEN it is re-embedded as updated, keeping its row', () => {
    const r = row('a.jpg');
    const job = { file: file('a.jpg', 120, 5000), row: r, metadata: '{}' };
    for (const digest of ['another-sha', undefined]) {
      const out = resolveHashed(job, digest);
      assert.equal(out.kind, 'changed');
      assert.deepEqual(out.kind === 'changed' && out.job, { file: job.file, metadata: '{}', kind: 'updated', row: r });
    }
  });
});

describe('the mass-removal guard', () => {
  it('GIVEN an empty scan over stored items THEN every item counts as removed and the run is refused with the count', () => {
    const items = [row('a.jpg'), row('b.jpg'), row('c.jpg')];
    assert.equal(removalCount({ files: [] }, items), 3);
    const err = massRemovalError(3, 3, '/mnt/shop');
    assert.equal(err?.code, 'REINDEX_MASS_REMOVAL');
    assert.deepEqual(err?.details, { wouldRemove: 3, total: 3, imagesDir: '/mnt/shop', folderMissing: false });
    assert.match(err?.userMessage ?? '', /remove 3 of the 3 items/);
    assert.match(err?.userMessage ?? '', /looks empty/);
    assert.match(massRemovalError(3, 3, '/mnt/shop', true)?.userMessage ?? '', /is missing/);
  });

  it('GIVEN exactly half removed THEN it goes ahead; more than half THEN refused; an empty catalog is never refused', () => {
    const items = [row('a.jpg'), row('b.jpg'), row('c.jpg'), row('d.jpg')];
    assert.equal(removalCount({ files: [file('a.jpg'), file('b.jpg'), file('new.jpg')] }, items), 2);
    assert.equal(massRemovalError(2, 4, '/x'), undefined);
    assert.equal(massRemovalError(3, 4, '/x')?.code, 'REINDEX_MASS_REMOVAL');
    assert.match(massRemovalError(3, 4, '/x')?.userMessage ?? '', /most files in \/x are gone/);
    assert.equal(massRemovalError(0, 0, '/x'), undefined);
  });
});
