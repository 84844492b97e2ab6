/**
 * Temp files left by saves that never finished: which names are temp files, and which of them
 * `removeStaleTempFiles` removes (their writer is gone, or the pid now belongs to a process that
 * started after the file was last written) and which it leaves (a live writer's, other files).
 * The writers are real child processes that create their own temp files.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeStaleTempFiles, tempFileWriter, tempPathFor } from '@lookalike/index';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = join(root, 'test', '.tmp', `index-stale-temps-${process.pid}`);
const children: ChildProcess[] = [];
before(() => mkdirSync(tmp, { recursive: true }));
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** Code run by a writer child: `name(pid)` gives the file it creates in `dir`, named with its own pid. */
function writerScript(dir: string, names: readonly string[]): string {
  const files = JSON.stringify(names.map((n) => join(dir, n)));
  return `const fs = require('node:fs');
for (const f of ${files}) fs.writeFileSync(f.replaceAll('PID', String(process.pid)), 'partial save');
console.log('written');`;
}

/** A child that writes its temp files and exits: the writer is gone. Resolves to its pid. */
async function deadWriter(names: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, ['-e', writerScript(tmp, names)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0);
  return child.pid as number;
}

/** A child that writes its temp files and stays alive (until the test ends). Resolves to its pid. */
async function liveWriter(names: readonly string[]): Promise<number> {
  const child = spawn(process.execPath, ['-e', `${writerScript(tmp, names)}\nsetInterval(() => {}, 1000);`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve());
    child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  return child.pid as number;
}

describe('temp file names', () => {
  test('GIVEN the names saves write THEN the writer pid is read from them; other names are not temp files', () => {
    assert.equal(tempFileWriter('index.faiss.tmp-123-ab12cd34'), 123);
    assert.equal(tempFileWriter('index.next.faiss.tmp-4194304-00'), 4194304);
    assert.equal(tempFileWriter('index.json.456.tmp'), 456, 'the sidecar temp of older versions');
    const made = tempPathFor(join(tmp, 'index.json'));
    assert.equal(tempFileWriter(made), process.pid, 'tempPathFor writes the recognised form');
    for (const other of [
      'index.faiss',
      'index.json',
      'catalog.sqlite',
      'catalog.sqlite-wal',
      'notes.tmp',
      'index.faiss.tmp-12-xyz',
      'index.faiss.tmp-0x1-ab',
      'manifest.json.123.1764650000000.tmp',
    ]) {
      assert.equal(tempFileWriter(other), undefined, other);
    }
  });
});

describe('removeStaleTempFiles', () => {
  test('GIVEN temps of dead writers, of a live writer, of a reused pid and of this process THEN only the left-over ones go', async () => {
    // Written by processes that have exited (as after a crash or kill -9): index and sidecar temps, both forms.
    const deadPid = await deadWriter(['index.faiss.tmp-PID-1a2b3c4d', 'index.json.PID.tmp', 'index.json.tmp-PID-99']);
    // Written by a process that is still running (a save in flight in another lookalike process).
    const livePid = await liveWriter(['index.faiss.tmp-PID-0badcafe']);
    // A pid that a live process holds now, on a file last written long before that process started.
    const reused = await liveWriter([]);
    const reusedName = `index.faiss.tmp-${reused}-feedf00d`;
    writeFileSync(join(tmp, reusedName), 'partial save');
    const anHourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(tmp, reusedName), anHourAgo, anHourAgo);
    // This process's own pid: one from before it started (a restarted container gets the same pid), one in flight.
    const previousLife = `index.faiss.tmp-${process.pid}-0000aaaa`;
    writeFileSync(join(tmp, previousLife), 'partial save');
    utimesSync(join(tmp, previousLife), anHourAgo, anHourAgo);
    const inFlight = `index.faiss.tmp-${process.pid}-0000bbbb`;
    writeFileSync(join(tmp, inFlight), 'being written');
    // Not temp files, or not files.
    for (const keep of ['index.faiss', 'index.json', 'catalog.sqlite', 'notes.tmp']) writeFileSync(join(tmp, keep), '');
    mkdirSync(join(tmp, `folder.tmp-${deadPid}-aa`));

    assert.ok(existsSync('/proc/self/stat'), 'Linux /proc tells when the process holding a pid started');
    const removed = await removeStaleTempFiles(tmp);
    assert.deepEqual(
      removed.sort(),
      [
        `index.faiss.tmp-${deadPid}-1a2b3c4d`,
        `index.json.${deadPid}.tmp`,
        `index.json.tmp-${deadPid}-99`,
        reusedName,
        previousLife,
      ].sort(),
    );
    assert.deepEqual(
      readdirSync(tmp).sort(),
      [
        'catalog.sqlite',
        `folder.tmp-${deadPid}-aa`,
        'index.faiss',
        `index.faiss.tmp-${livePid}-0badcafe`,
        inFlight,
        'index.json',
        'notes.tmp',
      ].sort(),
    );
    assert.deepEqual(await removeStaleTempFiles(tmp), [], 'a second pass finds nothing');
  });

  test('GIVEN a folder that does not exist THEN nothing is removed and nothing is thrown', async () => {
    assert.deepEqual(await removeStaleTempFiles(join(tmp, 'missing')), []);
  });
});
