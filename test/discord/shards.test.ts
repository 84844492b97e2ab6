/**
 * Discord gateway shards: replicas that each own some shards (DISCORD_SHARD_COUNT / _IDS →
 * discord.js `shards`/`shardCount`) against the loopback fake gateway, which routes every guild's
 * events to shard `(guild_id >> 22) % count` only. Each photo is answered once, by its owner.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { parseConfig, type SimilarityService } from '@lookalike/core';
import { createDiscordBot, type DiscordBot, shardOptions } from '@lookalike/discord';
import { Events } from 'discord.js';
import { FakeDiscord, type GuildSpec, type RecordedRequest, shardOf, snowflake } from '../fakes/discord.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { isMessagePost, payload, recordingLogger } from './harness.js';

const T = { timeout: 120_000 };
const COUNT = 2;

let stack: TestStack;
let fake: FakeDiscord;
/** One guild routed to each shard (the fake's default guild lands on either). */
let guilds: GuildSpec[];

before(async () => {
  stack = await createTestStack({ catalogSize: 12 });
  // max_concurrency 2: shards 0 and 1 identify in separate buckets, so a process owning both is not throttled 5 s.
  fake = await FakeDiscord.start({ heartbeatInterval: 15_000, recommendedShards: COUNT, maxConcurrency: COUNT });
  guilds = [fake.addGuild({ name: 'Shop on shard 0', shard: [0, COUNT] }), fake.addGuild({ shard: [1, COUNT] })];
}, T);

after(async () => {
  await fake?.close();
  await stack?.close();
});

interface Replica {
  bot: DiscordBot;
  service: SimilarityService;
  /** Ids of every MESSAGE_CREATE this replica's client received. */
  seen: string[];
  name: string;
}

function startReplica(name: string, shards: { count: number; ids: readonly number[] } | undefined): Replica {
  const service = stack.serviceWith({});
  const bot = createDiscordBot({
    service,
    token: fake.token,
    appId: fake.appId,
    watchChannels: fake.guilds.map((g) => g.channels[0]!.id),
    adminRoleIds: [],
    apiBase: fake.apiBase,
    logger: recordingLogger(),
    progressIntervalMs: 0,
    shards,
    // The replica's name rides on every REST request's User-Agent: it tells who answered.
    clientOptions: { waitGuildTimeout: 2000, rest: { userAgentAppendix: name } },
  });
  const seen: string[] = [];
  bot.client.on(Events.MessageCreate, (m) => seen.push(m.id));
  return { bot, service, seen, name };
}

async function stopReplicas(replicas: Replica[]): Promise<void> {
  // Clients first, then (in after()) the fake: otherwise the shards loop reconnecting.
  await Promise.allSettled(replicas.map((r) => r.bot.stop()));
  await Promise.allSettled(replicas.map((r) => r.service.close()));
}

async function photo(index: number) {
  const item = stack.items[index % stack.items.length]!;
  const png = item.path.endsWith('.png');
  return {
    bytes: await readFile(item.path),
    filename: `photo-${index}.${png ? 'png' : 'jpg'}`,
    contentType: png ? 'image/png' : 'image/jpeg',
  };
}

/** Posts a photo in the guild's watched channel; resolves with the message and every reply to it. */
async function postPhoto(guild: GuildSpec, index: number) {
  const channelId = guild.channels[0]!.id;
  const msg = fake.sendMessage({
    channelId,
    author: { id: snowflake(), username: `shopper${index}` },
    attachments: [await photo(index)],
  });
  const isReply = (r: RecordedRequest) =>
    isMessagePost(channelId)(r) && payload(r).message_reference?.message_id === msg.id;
  const first = await fake.waitFor(isReply, 60_000);
  return { msg, first, replies: () => fake.requests.filter(isReply) };
}

const agentOf = (r: RecordedRequest) => String(r.headers['user-agent'] ?? '');

describe('shard routing helpers', () => {
  test('GIVEN shard ids THEN the discord.js options are the sorted unique ids and the count', () => {
    assert.deepEqual(shardOptions({ count: 4, ids: [2, 0, 2] }), { shards: [0, 2], shardCount: 4 });
    assert.deepEqual(shardOptions(undefined), {});
    assert.throws(() => shardOptions({ count: 2, ids: [2] }), /CONFIG_INVALID|below 2/);
    assert.throws(() => shardOptions({ count: 2, ids: [] }), /below 2/);
  });

  test('GIVEN guilds made for a shard THEN their ids route there', () => {
    assert.deepEqual(
      guilds.map((g) => shardOf(g.id, COUNT)),
      [0, 1],
    );
    for (let shard = 0; shard < 4; shard++) {
      const g = fake.addGuild({ shard: [shard, 4] });
      assert.equal(shardOf(g.id, 4), shard);
    }
  });
});

describe('two replicas, shard 0 and shard 1 of 2', () => {
  const replicas: Replica[] = [];

  before(async () => {
    replicas.push(startReplica('replica-0', { count: COUNT, ids: [0] }));
    replicas.push(startReplica('replica-1', { count: COUNT, ids: [1] }));
    try {
      await Promise.all(replicas.map((r) => r.bot.start()));
    } catch (err) {
      await stopReplicas(replicas);
      throw err;
    }
  }, T);

  after(async () => {
    await stopReplicas(replicas);
  });

  test('GIVEN both replicas start THEN two IDENTIFYs carry shard [0,2] and [1,2], and each caches only its guilds', () => {
    assert.deepEqual(
      fake.identifies.map((i) => i.shard).sort((a, b) => a[0] - b[0]),
      [
        [0, 2],
        [1, 2],
      ],
    );
    const gw = fake.requests.filter((r) => r.path === '/gateway/bot');
    assert.equal(gw.length, 2, 'each replica discovers the gateway');
    replicas.forEach((r, shard) => {
      assert.deepEqual([...r.bot.client.ws.shards.keys()], [shard]);
      assert.equal(r.bot.client.options.shardCount, COUNT);
      const cached = [...r.bot.client.guilds.cache.keys()].sort();
      const expected = fake.guilds
        .filter((g) => shardOf(g.id, COUNT) === shard)
        .map((g) => g.id)
        .sort();
      assert.deepEqual(cached, expected, `replica-${shard} holds exactly the guilds of shard ${shard}`);
    });
  });

  test(
    'GIVEN photos in guilds on both shards THEN each is delivered to and answered by its owning replica, exactly once',
    T,
    async () => {
      // Two photos per guild, both shards at once.
      const posts = await Promise.all(
        [guilds[0]!, guilds[1]!, guilds[1]!, guilds[0]!].map(async (guild, i) => ({
          guild,
          ...(await postPhoto(guild, i)),
        })),
      );
      for (const { guild, msg, first } of posts) {
        const owner = shardOf(guild.id, COUNT);
        assert.deepEqual(msg.deliveredTo, [[owner, COUNT]], 'only the owning shard socket gets the message');
        assert.ok(first.files.length > 0, 'the answer carries the collage');
        assert.ok(agentOf(first).endsWith(`replica-${owner}`), `answered by replica-${owner}: ${agentOf(first)}`);
        // Every delivery was on the wire before the answer: the owner saw it once, the other never.
        assert.equal(replicas[owner]!.seen.filter((id) => id === msg.id).length, 1);
        assert.equal(replicas[1 - owner]!.seen.includes(msg.id), false);
      }
      // A marker answered on each shard after the photos: everything before it has been handled.
      for (const guild of guilds) {
        const channelId = guild.channels[0]!.id;
        const marker = fake.sendMessage({
          channelId,
          author: { id: snowflake(), username: 'marker' },
          mentionBot: true,
          content: 'marker',
        });
        await fake.waitFor(
          (r) => isMessagePost(channelId)(r) && payload(r).message_reference?.message_id === marker.id,
          60_000,
        );
      }
      for (const { replies } of posts) assert.equal(replies().length, 1, 'one answer per photo');
    },
  );
});

describe('one process owning every shard (DISCORD_SHARD_COUNT=2, no ids)', () => {
  let replica: Replica | undefined;

  after(async () => {
    if (replica !== undefined) await stopReplicas([replica]);
  });

  test('GIVEN the configuration THEN one client opens both shards and answers guilds on each', T, async () => {
    const config = parseConfig({ DISCORD_TOKEN: fake.token, DISCORD_SHARD_COUNT: String(COUNT) });
    assert.deepEqual(config.discord?.shards, { count: COUNT, ids: [0, 1] });
    const before = fake.identifies.length;
    replica = startReplica('replica-all', config.discord?.shards);
    await replica.bot.start();
    assert.deepEqual(
      fake.identifies
        .slice(before)
        .map((i) => i.shard)
        .sort((a, b) => a[0] - b[0]),
      [
        [0, 2],
        [1, 2],
      ],
    );
    assert.deepEqual([...replica.bot.client.ws.shards.keys()].sort(), [0, 1]);
    for (const [i, guild] of guilds.entries()) {
      const { msg, first } = await postPhoto(guild, 10 + i);
      assert.deepEqual(msg.deliveredTo, [[shardOf(guild.id, COUNT), COUNT]]);
      assert.ok(agentOf(first).endsWith('replica-all'));
    }
  });
});
