/**
 * apps/discord-bot as a process: configuration from the environment, /healthz on the one HTTP
 * server with LOCAL_PAGE=off, a photo in a watched channel answered through the fake Discord,
 * and a clean logout and exit on SIGTERM.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import { FakeDiscord } from '../fakes/discord.js';
import { makeTestCatalog } from '../helpers/catalog.js';
import { type SpawnedApp, spawnBotWithEmptyCatalog } from '../helpers/process.js';

let fake: FakeDiscord;
let app: SpawnedApp;
let dir: string;

before(async () => {
  fake = await FakeDiscord.start();
  ({ app, dir } = await spawnBotWithEmptyCatalog('apps/discord-bot/src/main.ts', 'discord-main-', {
    DISCORD_TOKEN: fake.token,
    DISCORD_API_BASE: fake.apiBase,
    DISCORD_WATCH_CHANNELS: fake.watchedChannelId,
  }));
  await fake.waitForSession(60_000);
});

after(async () => {
  if (app !== undefined && app.child.exitCode === null) app.child.kill('SIGKILL');
  await fake?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test('GIVEN the discord-bot process THEN /healthz answers, the local page is off and the token is never logged', async () => {
  const health = await fetch(`${app.base}/healthz`);
  assert.equal(health.status, 200);
  await health.arrayBuffer();
  const page = await fetch(`${app.base}/`);
  assert.equal(page.status, 404);
  await page.arrayBuffer();
  assert.ok(fake.connected, 'the bot is connected to the gateway');
  assert.ok(!app.logs.join('').includes(fake.token), 'the bot token is never logged');
});

test('GIVEN a photo in the watched channel THEN the process replies through REST', async () => {
  const photo = await makeTestCatalog(join(dir, 'photo'), { count: 1 });
  const item = photo.items[0]!;
  const bytes = await readFile(join(photo.imagesDir, item.file));
  const sent = fake.sendMessage({
    channelId: fake.watchedChannelId,
    attachments: [{ filename: item.file, bytes, contentType: item.file.endsWith('.png') ? 'image/png' : 'image/jpeg' }],
  });
  const reply = await fake.waitFor(
    (r) => r.method === 'POST' && r.path === `/channels/${fake.watchedChannelId}/messages`,
    60_000,
  );
  const body = reply.json as { content?: string; message_reference?: { message_id: string } };
  assert.equal(body.message_reference?.message_id, sent.id);
  assert.match(body.content ?? '', new RegExp(USER_MESSAGES.INDEX_EMPTY.slice(0, 20)));
});

test('GIVEN SIGTERM THEN the process logs out and exits 0', async () => {
  const exited = once(app.child, 'close'); // after stdout/stderr are drained
  app.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0);
  assert.match(app.logs.join(''), /"msg":"bye"/);
});
