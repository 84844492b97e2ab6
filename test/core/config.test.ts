/**
 * Configuration: one zod schema; an invalid configuration names every bad variable, never its
 * value, and `lookalike start` exits before anything starts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  configSchema,
  DEFAULT_ATTACHMENT_HOSTS,
  LookalikeError,
  parseConfig,
  serviceSettingsFrom,
} from '@lookalike/core';
import { TEST_TMP_DIR } from '../helpers/models.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SECRET = 'xoxb-1111-2222-SUPERSECRETVALUE';

function configError(env: Record<string, string>): LookalikeError {
  try {
    parseConfig(env);
  } catch (err) {
    assert.ok(err instanceof LookalikeError);
    assert.equal(err.code, 'CONFIG_INVALID');
    return err;
  }
  assert.fail('expected CONFIG_INVALID');
}

describe('config', () => {
  test('GIVEN no variables THEN the documented defaults', () => {
    const c = parseConfig({});
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 3000);
    assert.equal(c.http.localPage, true);
    assert.equal(c.limits.ratePerMinute, 5);
    assert.equal(c.limits.pageRatePerMinute, 60);
    assert.equal(c.fetch.allowPrivate, false, 'private addresses are refused unless opted in');
    assert.deepEqual(c.http.publicHosts, []);
    assert.deepEqual(c.image, { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 });
    assert.deepEqual(c.fetch.allowedHosts, [...DEFAULT_ATTACHMENT_HOSTS]);
    assert.deepEqual([c.embedder.batchSize, c.embedder.batchSliceSize, c.embedder.workers], [8, 4, 1]);
    assert.equal(c.discord, undefined);
    assert.equal(c.slack, undefined);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.http));
  });

  test('GIVEN the hardening settings THEN they are parsed, and the page budget reaches the service settings', () => {
    const c = parseConfig({
      LOOKALIKE_FETCH_ALLOW_PRIVATE: 'true',
      LOOKALIKE_PUBLIC_HOSTS: 'shop.example, lookalike.example.org',
      LOOKALIKE_PAGE_RATE_PER_MINUTE: '120',
      LOOKALIKE_RATE_PER_MINUTE: '7',
    });
    assert.equal(c.fetch.allowPrivate, true);
    assert.deepEqual(c.http.publicHosts, ['shop.example', 'lookalike.example.org']);
    const s = serviceSettingsFrom(c);
    assert.deepEqual([s.ratePerMinute, s.pageRatePerMinute], [7, 120]);
    assert.deepEqual(configError({ LOOKALIKE_FETCH_ALLOW_PRIVATE: 'sure' }).details.variables, [
      'LOOKALIKE_FETCH_ALLOW_PRIVATE',
    ]);
  });

  test('GIVEN DATABASE_URL or REDIS_URL THEN they are parsed and checked', () => {
    const none = parseConfig({});
    assert.equal(none.scale.databaseUrl, undefined);
    assert.equal(none.scale.redisUrl, undefined);
    const both = parseConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/shop', REDIS_URL: 'redis://127.0.0.1:6379' });
    assert.deepEqual(
      [both.scale.databaseUrl, both.scale.redisUrl],
      ['postgres://u@127.0.0.1:5432/shop', 'redis://127.0.0.1:6379'],
    );
    assert.deepEqual(configError({ DATABASE_URL: 'mysql://x', REDIS_URL: 'nope' }).details.variables, [
      'DATABASE_URL',
      'REDIS_URL',
    ]);
  });

  test('GIVEN LOOKALIKE_INDEX THEN flat, hnsw and flat-sq8 are accepted, and flat-sq8 with DATABASE_URL is CONFIG_INVALID', () => {
    assert.equal(parseConfig({}).index.kind, 'flat');
    for (const kind of ['flat', 'hnsw', 'flat-sq8'] as const) {
      assert.equal(parseConfig({ LOOKALIKE_INDEX: kind }).index.kind, kind);
    }
    assert.deepEqual(configError({ LOOKALIKE_INDEX: 'ivf' }).details.variables, ['LOOKALIKE_INDEX']);
    const db = 'postgres://u@127.0.0.1:5432/shop';
    for (const kind of ['flat', 'hnsw'] as const) {
      assert.equal(parseConfig({ LOOKALIKE_INDEX: kind, DATABASE_URL: db }).index.kind, kind);
    }
    const err = configError({ LOOKALIKE_INDEX: 'flat-sq8', DATABASE_URL: db });
    assert.deepEqual(err.details.variables, ['LOOKALIKE_INDEX']);
    const problems = err.details.problems as string[];
    assert.match(problems[0] ?? '', /^LOOKALIKE_INDEX: flat-sq8 .*DATABASE_URL/);
    assert.ok(!err.message.includes(db) && !problems.join(' ').includes(db), 'the URL is not echoed');
  });

  test('GIVEN no scale-out settings THEN the documented defaults (worker concurrency twice the batch)', () => {
    const c = parseConfig({});
    assert.deepEqual(
      { ...c.scale, worker: { ...c.scale.worker } },
      {
        databaseUrl: undefined,
        redisUrl: undefined,
        catalogName: 'default',
        worker: { concurrency: 16, attempts: 3, lockMs: 30_000 },
        leaseMs: 15_000,
        noWorkerTimeoutMs: 10_000,
      },
    );
    assert.equal(parseConfig({ LOOKALIKE_BATCH_SIZE: '4' }).scale.worker.concurrency, 8);
    assert.equal(
      parseConfig({ LOOKALIKE_CATALOG_NAME: '', LOOKALIKE_WORKER_CONCURRENCY: '' }).scale.catalogName,
      'default',
    );
  });

  test('GIVEN the scale-out settings THEN they are parsed, and bad ones are named', () => {
    const c = parseConfig({
      LOOKALIKE_CATALOG_NAME: ' shop-eu ',
      LOOKALIKE_WORKER_CONCURRENCY: '3',
      LOOKALIKE_JOB_ATTEMPTS: '5',
      LOOKALIKE_JOB_LOCK_MS: '60000',
      LOOKALIKE_REINDEX_LEASE_MS: '20000',
      LOOKALIKE_NO_WORKER_TIMEOUT_MS: '2500',
    });
    assert.equal(c.scale.catalogName, 'shop-eu');
    assert.deepEqual({ ...c.scale.worker }, { concurrency: 3, attempts: 5, lockMs: 60_000 });
    assert.deepEqual([c.scale.leaseMs, c.scale.noWorkerTimeoutMs], [20_000, 2500]);
    const err = configError({
      LOOKALIKE_CATALOG_NAME: 'two words',
      LOOKALIKE_WORKER_CONCURRENCY: '0',
      LOOKALIKE_JOB_ATTEMPTS: 'many',
      LOOKALIKE_JOB_LOCK_MS: '10',
      LOOKALIKE_REINDEX_LEASE_MS: '-1',
      LOOKALIKE_NO_WORKER_TIMEOUT_MS: 'soon',
    });
    assert.deepEqual([...(err.details.variables as string[])].sort(), [
      'LOOKALIKE_CATALOG_NAME',
      'LOOKALIKE_JOB_ATTEMPTS',
      'LOOKALIKE_JOB_LOCK_MS',
      'LOOKALIKE_NO_WORKER_TIMEOUT_MS',
      'LOOKALIKE_REINDEX_LEASE_MS',
      'LOOKALIKE_WORKER_CONCURRENCY',
    ]);
  });

  test('GIVEN a catalog slice larger than the batch THEN it is held to the batch size', () => {
    const c = parseConfig({ LOOKALIKE_BATCH_SIZE: '2', LOOKALIKE_BATCH_SLICE: '16', LOOKALIKE_EMBED_WORKERS: '2' });
    assert.deepEqual([c.embedder.batchSize, c.embedder.batchSliceSize, c.embedder.workers], [2, 2, 2]);
  });

  test('GIVEN several bad variables THEN every one is named and no value is echoed', () => {
    const err = configError({
      PORT: 'abc',
      LOOKALIKE_RUNTIME: 'gpu',
      LOG_LEVEL: 'chatty',
      LOCAL_PAGE: 'maybe',
      LOOKALIKE_RATE_PER_MINUTE: '-3',
      SLACK_API_URL: SECRET,
      DISCORD_API_BASE: `not a url ${SECRET}`,
    });
    const variables = err.details.variables as string[];
    for (const v of [
      'PORT',
      'LOOKALIKE_RUNTIME',
      'LOG_LEVEL',
      'LOCAL_PAGE',
      'LOOKALIKE_RATE_PER_MINUTE',
      'SLACK_API_URL',
      'DISCORD_API_BASE',
    ]) {
      assert.ok(variables.includes(v), `${v} not named in ${variables.join(', ')}`);
    }
    const everything = JSON.stringify({ message: err.message, details: err.details, user: err.userMessage });
    for (const value of ['abc', 'gpu', 'chatty', 'maybe', SECRET, 'SUPERSECRET']) {
      assert.ok(!everything.includes(value), `the value "${value}" leaked: ${everything}`);
    }
  });

  test('GIVEN a Slack bot token without a signing secret or app token THEN the missing variable is named, not the token', () => {
    const err = configError({ SLACK_BOT_TOKEN: SECRET });
    assert.deepEqual(err.details.variables, ['SLACK_SIGNING_SECRET']);
    assert.ok(!JSON.stringify(err.details).includes(SECRET));
  });

  test('GIVEN the Discord shard variables THEN they give the owned ids of the count, and bad ids are named', () => {
    const discord = (env: Record<string, string>) => parseConfig({ DISCORD_TOKEN: SECRET, ...env }).discord;
    assert.equal(discord({})?.shards, undefined, 'unset: discord.js decides, one process owns every shard');
    assert.deepEqual(discord({ DISCORD_SHARD_COUNT: '4', DISCORD_SHARD_IDS: '2, 0,2' })?.shards, {
      count: 4,
      ids: [0, 2],
    });
    assert.deepEqual(discord({ DISCORD_SHARD_COUNT: '3' })?.shards, { count: 3, ids: [0, 1, 2] }, 'ids default to all');
    for (const env of [
      { DISCORD_SHARD_COUNT: '2', DISCORD_SHARD_IDS: '2' },
      { DISCORD_SHARD_COUNT: '2', DISCORD_SHARD_IDS: '-1' },
      { DISCORD_SHARD_COUNT: '2', DISCORD_SHARD_IDS: '0,x' },
      { DISCORD_SHARD_IDS: '0' },
    ]) {
      assert.deepEqual(configError({ DISCORD_TOKEN: SECRET, ...env }).details.variables, ['DISCORD_SHARD_IDS']);
    }
    for (const count of ['0', 'two', '4097', '1.5']) {
      assert.deepEqual(configError({ DISCORD_TOKEN: SECRET, DISCORD_SHARD_COUNT: count }).details.variables, [
        'DISCORD_SHARD_COUNT',
      ]);
    }
  });

  test('GIVEN .env.example THEN it documents every variable of the schema, and its defaults parse', async () => {
    const text = await readFile(join(ROOT, '.env.example'), 'utf8');
    const documented = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const name of Object.keys(configSchema.shape))
      assert.ok(documented.has(name), `${name} missing from .env.example`);
    for (const name of documented)
      assert.ok(name !== undefined && name in configSchema.shape, `${name} is not a variable`);
    // Uncommenting every line with a value must give a valid configuration equal to the defaults.
    const env: Record<string, string> = {};
    for (const m of text.matchAll(/^#\s*([A-Z][A-Z0-9_]+)=(.*)$/gm)) if (m[1] !== undefined) env[m[1]] = m[2] ?? '';
    assert.deepEqual(parseConfig(env), parseConfig({}));
  });

  test('GIVEN bad env THEN `lookalike start` exits non-zero before anything starts, naming variables only', async () => {
    const cwd = join(TEST_TMP_DIR, 'config-start');
    const dataDir = join(cwd, 'data');
    await rm(cwd, { recursive: true, force: true });
    await mkdir(cwd, { recursive: true });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (
        v !== undefined &&
        !/^(LOOKALIKE_|DISCORD_|SLACK_|PORT$|HOST$|LOCAL_PAGE$|LOG_LEVEL$|ATTACHMENT_HOSTS$)/.test(k)
      )
        env[k] = v;
    }
    Object.assign(env, {
      PORT: 'abc',
      LOOKALIKE_RUNTIME: 'gpu',
      LOOKALIKE_DATA_DIR: dataDir,
      SLACK_BOT_TOKEN: SECRET,
      SLACK_API_URL: `bogus-${SECRET}`,
    });
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', join(ROOT, 'apps/cli/src/main.ts'), 'start'],
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.notEqual(code, 0);
    assert.equal(code, 78, `exit code ${code}; stderr: ${stderr}`);
    for (const v of ['PORT', 'LOOKALIKE_RUNTIME', 'SLACK_API_URL']) assert.match(stderr, new RegExp(v));
    for (const value of ['abc', 'gpu', SECRET, 'SUPERSECRET']) assert.ok(!stderr.includes(value), `"${value}" leaked`);
    assert.equal(stdout, '', 'nothing started (no "Local page" line)');
    assert.equal(existsSync(dataDir), false, 'nothing was written');
    await rm(cwd, { recursive: true, force: true });
  });
});
