/**
 * A hostile feed end to end: the shop's feed file (`lookalike index --feed FILE`) turns into an
 * XML bomb. The real `lookalike` process exits 1 with the coded error on stderr (no stack, nothing
 * expanded); the same command called in this process rejects with FEED_INVALID and the process
 * goes on; and the catalog indexed before is untouched: the good feed back is unchanged, nothing
 * embedded. Real embedder (untrained), SQLite, FAISS; three local products.
 */
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { LookalikeError, parseConfig, silentLogger } from '@lookalike/core';
import sharp from 'sharp';
import { indexCommand } from '../../apps/cli/src/commands/index.ts';
import type { CliContext } from '../../apps/cli/src/context.ts';
import { ensureUntrainedModels, TEST_TMP_DIR } from '../helpers/models.ts';
import { runCli } from '../helpers/process.ts';

const ROOT = join(TEST_TMP_DIR, `feeds-hostile-cli-${process.pid}`);
const DATA = join(ROOT, 'data');
const FEED_DIR = join(ROOT, 'shop');
const FEED = join(FEED_DIR, 'products.xml');
const PRODUCTS = ['red', 'green', 'blue'] as const;

let modelsDir: string;

function env(): Record<string, string> {
  return { LOOKALIKE_MODELS_DIR: modelsDir, LOOKALIKE_DATA_DIR: DATA, LOOKALIKE_BATCH_SIZE: '4', LOG_LEVEL: 'silent' };
}

function context(): CliContext & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { config: parseConfig(env()), logger: silentLogger, stdout, stderr, out: () => out, err: () => err };
}

/** The shop's Merchant RSS feed, images beside it. */
function goodFeed(): string {
  const items = PRODUCTS.map(
    (c) =>
      `<item><g:id>sku-${c}</g:id><title>${c} shirt</title><link>https://shop.example/p/${c}</link>` +
      `<g:image_link>img/${c}.png</g:image_link><g:price>19.90 EUR</g:price></item>`,
  );
  return `<?xml version="1.0"?>\n<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>${items.join('')}</channel></rss>\n`;
}

/** The same feed behind a billion-laughs DOCTYPE (10⁹ "lol"s if anything expanded it). */
function bomb(): string {
  const decls = ['<!ENTITY lol0 "lol">'];
  for (let i = 1; i <= 9; i++) decls.push(`<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`);
  return goodFeed()
    .replace('\n', `\n<!DOCTYPE lolz [${decls.join('')}]>\n`)
    .replace('red shirt', '&lol9;');
}

before(async () => {
  modelsDir = await ensureUntrainedModels();
  await mkdir(join(FEED_DIR, 'img'), { recursive: true });
  const colours = { red: '#cc2222', green: '#22cc22', blue: '#2222cc' };
  for (const c of PRODUCTS) {
    const png = await sharp({ create: { width: 48, height: 48, channels: 3, background: colours[c] } })
      .png()
      .toBuffer();
    await writeFile(join(FEED_DIR, 'img', `${c}.png`), png);
  }
});

after(async () => {
  await rm(ROOT, { recursive: true, force: true });
});

describe('lookalike index --feed with a hostile feed', () => {
  test('GIVEN an indexed feed that becomes an XML bomb THEN exit 1 with FEED_INVALID on stderr, the process goes on, and the catalog is unchanged', async () => {
    await writeFile(FEED, goodFeed());
    const first = context();
    assert.equal(await indexCommand.run(['--feed', FEED], first), 0, first.err());
    assert.match(first.out(), /added 3, updated 0, removed 0, unchanged 0, failed 0/);

    await writeFile(FEED, bomb());
    const run = await runCli(['index', '--feed', FEED], env());
    assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /^lookalike index: FEED_INVALID: products\.xml, line 2: XML with a DOCTYPE is refused/m);
    assert.ok(!run.stderr.includes('    at '), 'no stack trace');
    assert.ok(!run.stderr.includes('lollol'), 'nothing expanded');
    assert.doesNotMatch(run.stdout, /Indexed feed/);

    // The same command in this process: a coded rejection (runLookalike turns it into exit 1 as above).
    const inProcess = context();
    await assert.rejects(
      indexCommand.run(['--feed', FEED], inProcess),
      (err) => err instanceof LookalikeError && err.code === 'FEED_INVALID' && /DOCTYPE is refused/.test(err.message),
    );

    // The process goes on, and the catalog is what the good feed made: nothing to add, update or embed.
    await writeFile(FEED, goodFeed());
    const again = context();
    assert.equal(await indexCommand.run(['--feed', FEED], again), 0, again.err());
    assert.match(again.out(), /added 0, updated 0, removed 0, unchanged 3, failed 0/);
    assert.match(again.out(), /catalog size 3; downloaded 0 image\(s\), 0 not modified; embedded 0 image\(s\)/);
  });
});
