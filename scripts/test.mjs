#!/usr/bin/env node
// Runs every test file under test/ with node's test runner, from TypeScript sources
// (the "source" export condition), one process per file. No --test-force-exit: a file whose
// process does not exit once its tests are done leaks a handle, which is a bug to fix;
// test/helpers/exit-guard.ts makes such a file fail with the handles named instead of hanging.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === '.tmp' || name === 'bench') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

let files = walk(join(root, 'test')).sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => relative(root, f).includes(o)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const args = [
  '--conditions=source',
  '--expose-gc',
  '--import',
  'tsx',
  // A file whose process outlives its tests fails, naming the leaked handles (no --test-force-exit).
  '--import',
  './test/helpers/exit-guard.ts',
  '--test',
  '--test-concurrency=2',
  '--test-timeout=600000',
  ...files,
];
const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
