/**
 * The Discord adapter's entry: builds the discord.js client and the listeners' dependencies,
 * registers the listeners (listeners/*.ts), and owns start and stop.
 */
import { DEFAULT_PROGRESS_INTERVAL_MS } from '@lookalike/chat';
import type { EventClaims, FeedbackRecorder, Logger, SimilarityService } from '@lookalike/core';
import { createMemoryClaims, LookalikeError, silentLogger } from '@lookalike/core';
import { Client, type ClientOptions, Events, GatewayIntentBits, Partials } from 'discord.js';
import { DISALLOWED_INTENTS, gatewayRefusal, loginError, MESSAGE_CONTENT_HINT, safeErr } from './errors.js';
import { onInteractionCreate } from './listeners/interaction-create.js';
import { onMessageCreate } from './listeners/message-create.js';
import { onReactionAdd } from './listeners/reaction-add.js';
import type { DiscordDeps } from './listeners/types.js';
import { createDiscordRestAgent } from './rest-agent.js';

export interface DiscordBotOptions {
  service: SimilarityService;
  token: string;
  /** The application id; only used in logs (the client learns it from READY). */
  appId?: string | undefined;
  /** Channel ids where every image post is answered; `['*']` for all channels. */
  watchChannels: readonly string[];
  /** Members with one of these roles may run /reindex (besides Manage Guild). */
  adminRoleIds: readonly string[];
  /** REST base, e.g. `http://127.0.0.1:PORT/api`; the gateway is discovered from it. @defaultValue Discord's API */
  apiBase?: string | undefined;
  /** Also attach the individual result images. @defaultValue false */
  attachImages?: boolean;
  logger?: Logger;
  /** Extra discord.js client options (tests: `waitGuildTimeout`, `rest.timeout`). Intents are fixed. */
  clientOptions?: Partial<ClientOptions>;
  /** Minimum time between two /reindex progress edits. @defaultValue DEFAULT_PROGRESS_INTERVAL_MS (2 s) */
  progressIntervalMs?: number;
  /**
   * The gateway shards this process owns: `ids` of `count` in total (discord.js `shards` and
   * `shardCount`). Every guild's events arrive on exactly one shard, `(guild_id >> 22) % count`,
   * so replicas with disjoint ids answer each message once. @defaultValue every shard, one process
   */
  shards?: { count: number; ids: readonly number[] } | undefined;
  /**
   * "Answered once" for image posts (`discord:<message id>`). With `REDIS_URL` the runtime
   * passes claims shared by every replica. @defaultValue claims in this process's memory
   */
  claims?: EventClaims;
  /** Records the answers it posts and 👍/👎 reactions on them. @defaultValue none (nothing recorded) */
  feedback?: FeedbackRecorder | undefined;
}

export interface DiscordBot {
  /** Logs in and resolves once the client is ready. */
  start(): Promise<void>;
  /** Stops taking new work, waits for in-flight answers, then destroys the client. */
  stop(): Promise<void>;
  readonly client: Client;
}

/** Intents: guild cache, guild messages, message content (privileged), reactions (feedback). Nothing else. */
export const DISCORD_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.GuildMessageReactions,
] as const;

/** Reactions on answers that are not in the message cache still arrive (feedback). */
export const DISCORD_PARTIALS = [Partials.Message, Partials.Reaction] as const;

/**
 * Creates the Discord bot. Nothing connects until `start()`.
 * Every listener catches everything: a failed reply is logged with its request id, never thrown.
 */
export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const log = (options.logger ?? silentLogger).child({ component: 'discord' });
  const extra = options.clientOptions ?? {};
  const agent = createDiscordRestAgent();
  const client = new Client({
    ...extra,
    ...shardOptions(options.shards),
    intents: [...DISCORD_INTENTS],
    partials: [...DISCORD_PARTIALS],
    allowedMentions: { parse: [], repliedUser: false },
    // A photo deleted before its answer is ready still gets the answer (as a plain message).
    failIfNotExists: false,
    rest: { ...(extra.rest ?? {}), agent, ...(options.apiBase === undefined ? {} : { api: options.apiBase }) },
  });

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const deps: DiscordDeps = {
    service: options.service,
    log,
    settings: {
      watchChannels: options.watchChannels,
      adminRoleIds: options.adminRoleIds,
      attachImages: options.attachImages ?? false,
      progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    },
    state: { contentHintLogged: false },
    claims: options.claims ?? createMemoryClaims(),
    botUserId: () => client.user?.id,
    stopping: () => stopping,
    feedback: options.feedback,
  };

  /** Runs a listener, tracks it for stop(), and logs (never throws) whatever escapes it. */
  function track(kind: string, fn: () => Promise<void>): void {
    if (stopping) return;
    const p = fn()
      .catch((err: unknown) => log.error({ err: safeErr(err), kind }, 'discord handler failed'))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  client.on(Events.MessageCreate, (message) => track('message', () => onMessageCreate(message, deps)));
  client.on(Events.InteractionCreate, (interaction) =>
    track('interaction', () => onInteractionCreate(interaction, deps)),
  );
  client.on(Events.MessageReactionAdd, (reaction, user) =>
    track('reaction', () => onReactionAdd(reaction, user, deps)),
  );
  logClientEvents(client, log, () => stopping, options.appId);

  return {
    client,
    async start() {
      let cleanup = () => {};
      const ready = new Promise<void>((resolve, reject) => {
        const onReady = () => {
          cleanup();
          resolve();
        };
        const onDisconnect = (ev: { code: number }) => {
          cleanup();
          reject(gatewayRefusal(ev.code));
        };
        cleanup = () => {
          client.off(Events.ClientReady, onReady);
          client.off(Events.ShardDisconnect, onDisconnect);
        };
        client.once(Events.ClientReady, onReady);
        client.on(Events.ShardDisconnect, onDisconnect);
      });
      ready.catch(() => {}); // handled below; avoids an unhandled rejection if login fails first
      try {
        await client.login(options.token);
        await ready;
      } catch (err) {
        cleanup();
        await client.destroy().catch(() => {});
        await agent.close().catch(() => {});
        const e = loginError(err);
        log.error({ code: e.code, reason: e.message }, 'discord login failed');
        throw e;
      }
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (inFlight.size > 0) log.info({ inFlight: inFlight.size }, 'waiting for in-flight answers');
        await Promise.allSettled([...inFlight]);
        await client.destroy();
        await agent.close().catch(() => {});
        log.info({}, 'logged out of Discord');
      })();
      return stopped;
    },
  };
}

/** discord.js `shards`/`shardCount` for the owned shards; none (discord.js's default) when unset. */
export function shardOptions(
  shards: DiscordBotOptions['shards'],
): Pick<ClientOptions, 'shards' | 'shardCount'> | Record<string, never> {
  if (shards === undefined) return {};
  const { count, ids } = shards;
  if (!Number.isInteger(count) || count < 1) {
    throw new LookalikeError('CONFIG_INVALID', `Discord shard count ${count} is not a whole number >= 1`);
  }
  if (ids.length === 0 || ids.some((id) => !Number.isInteger(id) || id < 0 || id >= count)) {
    throw new LookalikeError(
      'CONFIG_INVALID',
      `Discord shard ids [${ids.join(',')}] must be whole numbers below ${count}`,
    );
  }
  return { shards: [...new Set(ids)].sort((a, b) => a - b), shardCount: count };
}

/** Forwards discord.js diagnostics to the logger at their own levels. */
function logClientEvents(client: Client, log: Logger, stopping: () => boolean, appId: string | undefined): void {
  client.on(Events.Debug, (m) => log.debug({ event: 'debug' }, m));
  client.on(Events.Warn, (m) => log.warn({ event: 'warn' }, m));
  client.on(Events.Error, (err) => log.error({ err: safeErr(err) }, 'discord client error'));
  client.on(Events.ShardError, (err, shardId) => log.error({ err: safeErr(err), shardId }, 'discord shard error'));
  client.on(Events.ShardDisconnect, (ev, shardId) => {
    if (ev.code === DISALLOWED_INTENTS) log.error({ code: ev.code, shardId }, MESSAGE_CONTENT_HINT);
    else log.warn({ code: ev.code, shardId }, 'gateway disconnected for good');
  });
  client.on(Events.ShardResume, (shardId, replayed) => log.info({ shardId, replayed }, 'gateway resumed'));
  client.on(Events.ShardReconnecting, (shardId) => {
    if (!stopping()) log.info({ shardId }, 'gateway reconnecting');
  });
  client.rest.on('rateLimited', (info) =>
    log.warn({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'discord REST rate limited'),
  );
  client.once(Events.ClientReady, (c) =>
    log.info(
      {
        user: c.user.tag,
        appId: appId ?? c.application.id,
        guilds: c.guilds.cache.size,
        shards: [...c.ws.shards.keys()],
        shardCount: c.options.shardCount,
      },
      'ready',
    ),
  );
}
