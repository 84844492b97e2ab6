/**
 * Scenario 8: command registration sends the expected definitions, through the library call
 * and through `lookalike discord register` (facets read from the real catalog).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_K, isLookalikeError, MAX_K, parseConfig } from '@lookalike/core';
import { commandDefinitions, createDiscordBot, registerCommands } from '@lookalike/discord';
import { discordCommand } from '../../apps/cli/src/commands/discord.js';
import { FakeDiscord } from '../fakes/discord.js';
import { ensureUntrainedModels } from '../helpers/models.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { recordingLogger } from './harness.js';

const T = { timeout: 120_000 };

interface CommandBody {
  name: string;
  type: number;
  description?: string;
  default_member_permissions?: string;
  contexts?: number[];
  options?: {
    name: string;
    type: number;
    required?: boolean;
    autocomplete?: boolean;
    min_value?: number;
    max_value?: number;
    description?: string;
    choices?: { name: string; value: string }[];
  }[];
}

let fake: FakeDiscord;
before(async () => {
  fake = await FakeDiscord.start();
});
after(async () => {
  await fake.close();
});

function byName(body: unknown, name: string): CommandBody {
  const cmd = (body as CommandBody[]).find((c) => c.name === name);
  assert.ok(cmd, `command ${name} is registered`);
  return cmd;
}

/** The checks every registration must pass, whatever the facets. */
function assertDefinitions(body: unknown, genders: string[]): void {
  assert.ok(Array.isArray(body));
  assert.deepEqual(body.map((c: CommandBody) => c.name).sort(), ['Find similar', 'reindex', 'similar']);
  const similar = byName(body, 'similar');
  assert.equal(similar.type, 1);
  const opt = (n: string) => similar.options?.find((o) => o.name === n);
  assert.deepEqual(
    similar.options?.map((o) => o.name),
    ['image', 'gender', 'category', 'k'],
  );
  assert.equal(opt('image')?.type, 11, 'image is an attachment option');
  assert.equal(opt('image')?.required, true);
  assert.equal(opt('gender')?.type, 3);
  assert.deepEqual(
    (opt('gender')?.choices ?? []).map((c) => c.value),
    genders.slice(0, 25),
  );
  assert.equal(opt('category')?.type, 3);
  assert.equal(opt('category')?.autocomplete, true);
  assert.equal(opt('k')?.type, 4, 'k is an integer');
  assert.equal(opt('k')?.min_value, 1);
  assert.equal(opt('k')?.max_value, MAX_K, 'the service’s maximum');
  assert.equal(opt('k')?.description, `How many results (1-${MAX_K}, default ${DEFAULT_K})`);
  const find = byName(body, 'Find similar');
  assert.equal(find.type, 3, 'a message context-menu command');
  const reindex = byName(body, 'reindex');
  assert.equal(reindex.type, 1);
  assert.equal(reindex.default_member_permissions, '32', 'Manage Guild');
  assert.deepEqual(reindex.contexts, [0], 'guilds only');
}

describe('scenario 8: command registration', () => {
  test('GIVEN a guild id THEN the commands are PUT to the guild route with the exact definitions', async () => {
    const facets = { genders: ['Men', 'Women', 'Unisex'], articleTypes: ['Shirts', 'Tshirts'] };
    const registered = await registerCommands({
      token: fake.token,
      appId: fake.appId,
      guildId: fake.guild.id,
      apiBase: fake.apiBase,
      facets,
    });
    const put = await fake.waitFor((r) => r.method === 'PUT' && r.path.endsWith('/commands'));
    assert.equal(put.path, `/applications/${fake.appId}/guilds/${fake.guild.id}/commands`);
    assert.equal(put.headers.authorization, `Bot ${fake.token}`);
    assert.deepEqual(put.json, JSON.parse(JSON.stringify(commandDefinitions(facets))));
    assertDefinitions(put.json, facets.genders);
    assert.deepEqual(
      registered.map((c) => c.name),
      ['similar', 'Find similar', 'reindex'],
    );
    assert.ok(registered.every((c) => typeof c.id === 'string'));
  });

  test('GIVEN no guild id THEN the commands are registered globally', async () => {
    const n = fake.requests.length;
    await registerCommands({
      token: fake.token,
      appId: fake.appId,
      apiBase: fake.apiBase,
      facets: { genders: [], articleTypes: [] },
    });
    const put = fake.requests.slice(n).find((r) => r.method === 'PUT');
    assert.ok(put);
    assert.equal(put.path, `/applications/${fake.appId}/commands`);
    assertDefinitions(put.json, []);
    assert.equal(byName(put.json, 'similar').options?.find((o) => o.name === 'gender')?.choices, undefined);
  });

  test('GIVEN more than 25 genders THEN only 25 choices are sent', () => {
    const genders = Array.from({ length: 30 }, (_, i) => `g${i}`);
    const defs = commandDefinitions({ genders, articleTypes: [] });
    assertDefinitions(JSON.parse(JSON.stringify(defs)), genders);
  });

  test('GIVEN a wrong token THEN registration fails with PLATFORM_ERROR', async () => {
    await assert.rejects(
      registerCommands({
        token: 'wrong',
        appId: fake.appId,
        guildId: fake.guild.id,
        apiBase: fake.apiBase,
        facets: { genders: [], articleTypes: [] },
      }),
      (err) => isLookalikeError(err) && err.code === 'PLATFORM_ERROR',
    );
  });
});

describe('lookalike discord register', () => {
  let stack: TestStack;
  before(async () => {
    stack = await createTestStack({ catalogSize: 16 });
  }, T);
  after(async () => {
    await stack?.close();
  });

  function ctxFor(env: Record<string, string>) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c) => {
      out += String(c);
    });
    stderr.on('data', (c) => {
      err += String(c);
    });
    return {
      ctx: { config: parseConfig(env), logger: recordingLogger(), stdout, stderr },
      output: () => ({ out, err }),
    };
  }

  test('GIVEN --guild and a catalog in the data dir THEN the gender choices come from the catalog', T, async () => {
    const modelsDir = await ensureUntrainedModels();
    const { ctx, output } = ctxFor({
      DISCORD_TOKEN: fake.token,
      DISCORD_APP_ID: fake.appId,
      DISCORD_API_BASE: fake.apiBase,
      LOOKALIKE_DATA_DIR: stack.dataDir,
      LOOKALIKE_MODELS_DIR: modelsDir,
    });
    const n = fake.requests.length;
    const code = await discordCommand.run(['register', '--guild', fake.guild.id], ctx);
    assert.equal(code, 0, output().err);
    const put = fake.requests.slice(n).find((r) => r.method === 'PUT');
    assert.ok(put);
    assert.equal(put.path, `/applications/${fake.appId}/guilds/${fake.guild.id}/commands`);
    const genders = stack.catalog.facet('gender');
    assert.ok(genders.length > 0);
    assert.deepEqual(new Set(genders), new Set(stack.items.map((i) => i.gender)));
    assertDefinitions(put.json, genders);
    assert.match(output().out, /Registered 3 commands in guild/);
  });

  test('GIVEN no DISCORD_APP_ID THEN the command fails naming the variable', async () => {
    const { ctx } = ctxFor({ DISCORD_TOKEN: fake.token, DISCORD_API_BASE: fake.apiBase });
    await assert.rejects(
      discordCommand.run(['register'], ctx),
      (err) => isLookalikeError(err) && /DISCORD_APP_ID/.test(err.message),
    );
  });

  test('GIVEN a wrong sub-command THEN usage and exit code 2', async () => {
    const { ctx, output } = ctxFor({ DISCORD_TOKEN: fake.token, DISCORD_APP_ID: fake.appId });
    assert.equal(await discordCommand.run(['unregister'], ctx), 2);
    assert.match(output().err, /Usage: lookalike discord register/);
  });
});

describe('start-up failures', () => {
  let stack: TestStack;
  before(async () => {
    stack = await createTestStack({ catalogSize: 8 });
  }, T);
  after(async () => {
    await stack?.close();
  });

  test('GIVEN a wrong token THEN start() rejects with PLATFORM_ERROR naming DISCORD_TOKEN', T, async () => {
    const bot = createDiscordBot({
      service: stack.service,
      token: 'not-the-token',
      watchChannels: ['*'],
      adminRoleIds: [],
      apiBase: fake.apiBase,
    });
    await assert.rejects(
      bot.start(),
      (err) => isLookalikeError(err) && err.code === 'PLATFORM_ERROR' && /DISCORD_TOKEN/.test(err.message),
    );
    await bot.stop();
  });

  test(
    'GIVEN the Message Content intent is not enabled for the app THEN start() rejects with the Developer Portal hint',
    T,
    async () => {
      const strict = await FakeDiscord.start({ disallowedIntents: 1 << 15 });
      const log = recordingLogger();
      const bot = createDiscordBot({
        service: stack.service,
        token: strict.token,
        watchChannels: ['*'],
        adminRoleIds: [],
        apiBase: strict.apiBase,
        logger: log,
      });
      try {
        await assert.rejects(
          bot.start(),
          (err) =>
            isLookalikeError(err) &&
            err.code === 'PLATFORM_ERROR' &&
            /Message Content/.test(err.message) &&
            /Developer Portal/.test(err.message),
        );
        assert.ok(log.entries.some((e) => e.level === 'error' && /Message Content/.test(e.msg ?? '')));
      } finally {
        await bot.stop();
        await strict.close();
      }
    },
  );
});
