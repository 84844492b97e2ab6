/**
 * The Discord adapter: pulls images out of Discord events, calls the SimilarityService,
 * renders the answer. All state lives in the object createDiscordBot returns.
 */
import { randomUUID } from 'node:crypto';
import {
  asLookalikeError,
  type FindSimilarOptions,
  type Logger,
  LookalikeError,
  type MetadataFilters,
  type ReindexProgress,
  type SimilarityService,
  silentLogger,
  USER_MESSAGES,
} from '@lookalike/core';
import {
  type Attachment,
  type AutocompleteInteraction,
  type ChatInputCommandInteraction,
  Client,
  type ClientOptions,
  Events,
  GatewayIntentBits,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
  MessageFlags,
  PermissionFlagsBits,
  type RepliableInteraction,
} from 'discord.js';
import { COMMAND_NAMES } from './commands.js';
import { isImageAttachment, type RenderedAnswer, renderAnswer, renderProgress, renderSummary } from './render.js';
import { createDiscordRestAgent } from './rest-agent.js';

/** Up to this many images of one message get an answer each. */
export const MAX_IMAGES_PER_MESSAGE = 4;

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
  /** Minimum time between two /reindex progress edits. @defaultValue 2000 */
  progressIntervalMs?: number;
}

export interface DiscordBot {
  /** Logs in and resolves once the client is ready. */
  start(): Promise<void>;
  /** Stops taking new work, waits for in-flight answers, then destroys the client. */
  stop(): Promise<void>;
  readonly client: Client;
}

/** Intents: guild cache, guild messages, message content (privileged). Nothing else. */
export const DISCORD_INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
] as const;

/**
 * Creates the Discord bot. Nothing connects until `start()`.
 * Every handler catches everything: a failed reply is logged with its request id, never thrown.
 */
export function createDiscordBot(options: DiscordBotOptions): DiscordBot {
  const log = (options.logger ?? silentLogger).child({ component: 'discord' });
  const service = options.service;
  const watchAll = options.watchChannels.includes('*');
  const watched = new Set(options.watchChannels);
  const adminRoles = new Set(options.adminRoleIds);
  const attachImages = options.attachImages ?? false;
  const progressIntervalMs = options.progressIntervalMs ?? 2000;
  const extra = options.clientOptions ?? {};

  const agent = createDiscordRestAgent();
  const client = new Client({
    ...extra,
    intents: [...DISCORD_INTENTS],
    allowedMentions: { parse: [], repliedUser: false },
    // A photo deleted before its answer is ready still gets the answer (as a plain message).
    failIfNotExists: false,
    rest: { ...(extra.rest ?? {}), agent, ...(options.apiBase === undefined ? {} : { api: options.apiBase }) },
  });

  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let contentHintLogged = false;

  /** Runs a handler, tracks it for stop(), and swallows (logs) anything it throws. */
  function track(kind: string, fn: () => Promise<void>): void {
    if (stopping) return;
    const p = fn()
      .catch((err: unknown) => log.error({ err: safeErr(err), kind }, 'discord handler failed'))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

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
    if (!stopping) log.info({ shardId }, 'gateway reconnecting');
  });
  client.rest.on('rateLimited', (info) =>
    log.warn({ route: info.route, retryAfter: info.retryAfter, global: info.global }, 'discord REST rate limited'),
  );
  client.once(Events.ClientReady, (c) =>
    log.info({ user: c.user.tag, appId: options.appId ?? c.application.id, guilds: c.guilds.cache.size }, 'ready'),
  );

  client.on(Events.MessageCreate, (message) => track('message', () => onMessage(message)));
  client.on(Events.InteractionCreate, (interaction) => track('interaction', () => onInteraction(interaction)));

  // ── Image posts ──────────────────────────────────────────────────────────

  function isWatched(message: Message): boolean {
    if (watchAll || watched.has(message.channelId)) return true;
    const parentId = 'parentId' in message.channel ? message.channel.parentId : null;
    return parentId !== null && watched.has(parentId);
  }

  async function onMessage(message: Message): Promise<void> {
    if (message.author.bot || message.system) return;
    const me = client.user;
    const mentioned = me !== null && message.mentions.users.has(me.id);
    const inWatched = isWatched(message);
    if (!inWatched && !mentioned) return;

    if (
      !contentHintLogged &&
      message.content === '' &&
      message.attachments.size === 0 &&
      message.embeds.length === 0 &&
      message.stickers.size === 0
    ) {
      contentHintLogged = true;
      log.warn(
        { channelId: message.channelId },
        'received a message with no content and no attachments: enable the Message Content intent ' +
          '(Developer Portal → your app → Bot → Privileged Gateway Intents) or images will never arrive',
      );
    }

    const attachments = [...message.attachments.values()];
    const images = attachments.filter(toAttachmentLikeCheck);
    if (images.length === 0) {
      if (!mentioned) return; // silently ignore non-image posts in watched channels
      const code = attachments.length > 0 ? 'UNSUPPORTED_IMAGE' : 'NO_IMAGE';
      await safeReply(message, { content: USER_MESSAGES[code] }, newRequestId());
      return;
    }
    for (const att of images.slice(0, MAX_IMAGES_PER_MESSAGE)) {
      if (stopping) return;
      const failure = await answerAttachment(message, att);
      // One "slow down" sentence per post is enough.
      if (failure === 'RATE_LIMITED' || failure === 'BUSY') return;
    }
  }

  /** Answers one image of a post; returns the error code when the answer was an error sentence. */
  async function answerAttachment(message: Message, att: Attachment): Promise<string | undefined> {
    const requestId = newRequestId();
    const rlog = log.child({ requestId, channelId: message.channelId, messageId: message.id });
    const stopTyping = keepTyping(message, rlog);
    try {
      const bytes = await service.fetchImage(att.url);
      const answer = await service.findSimilar(bytes, { userId: `discord:${message.author.id}`, requestId });
      const extraImages = attachImages ? await answer.images() : [];
      stopTyping();
      await safeReply(message, renderAnswer(answer, extraImages), requestId);
      rlog.info({ results: answer.results.length, noCloseMatch: answer.noCloseMatch }, 'answered image post');
      return undefined;
    } catch (err) {
      stopTyping();
      const e = asLookalikeError(err);
      logFailure(rlog, e, 'image post failed');
      await safeReply(message, { content: e.userMessage }, requestId);
      return e.code;
    }
  }

  /** Discord shows "typing…" for 10 s; repeat every 8 s while working. */
  function keepTyping(message: Message, rlog: Logger): () => void {
    const channel = message.channel;
    if (!('sendTyping' in channel)) return () => {};
    const send = () => {
      channel.sendTyping().catch((err: unknown) => rlog.debug({ err: safeErr(err) }, 'sendTyping failed'));
    };
    send();
    const timer = setInterval(send, 8000);
    timer.unref();
    return () => clearInterval(timer);
  }

  async function safeReply(message: Message, body: RenderedAnswer | { content: string }, requestId: string) {
    try {
      await message.reply({ ...body, allowedMentions: { parse: [], repliedUser: false } });
    } catch (err) {
      log.error({ err: safeErr(err), requestId, channelId: message.channelId, messageId: message.id }, 'reply failed');
    }
  }

  // ── Interactions ─────────────────────────────────────────────────────────

  async function onInteraction(interaction: Interaction): Promise<void> {
    if (interaction.isAutocomplete()) return onAutocomplete(interaction);
    if (interaction.isChatInputCommand()) {
      if (interaction.commandName === COMMAND_NAMES.similar) return onSimilar(interaction);
      if (interaction.commandName === COMMAND_NAMES.reindex) return onReindex(interaction);
      return;
    }
    if (interaction.isMessageContextMenuCommand() && interaction.commandName === COMMAND_NAMES.findSimilar) {
      return onFindSimilar(interaction);
    }
  }

  async function onAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
    const focused = interaction.options.getFocused(true);
    if (focused.name !== 'category') {
      await interaction
        .respond([])
        .catch((err: unknown) => log.debug({ err: safeErr(err) }, 'autocomplete respond failed'));
      return;
    }
    const typed = String(focused.value).trim().toLowerCase();
    const all = service.facets().articleTypes;
    const starts = all.filter((t) => t.toLowerCase().startsWith(typed));
    const contains = typed === '' ? [] : all.filter((t) => !starts.includes(t) && t.toLowerCase().includes(typed));
    const choices = [...starts, ...contains]
      .filter((t) => t.length <= 100)
      .slice(0, 25)
      .map((t) => ({ name: t, value: t }));
    await interaction
      .respond(choices)
      .catch((err: unknown) => log.debug({ err: safeErr(err) }, 'autocomplete respond failed'));
  }

  async function onSimilar(interaction: ChatInputCommandInteraction): Promise<void> {
    const requestId = newRequestId();
    const att = interaction.options.getAttachment('image', false);
    if (att === null || !toAttachmentLikeCheck(att)) {
      await ephemeralError(interaction, att === null ? 'NO_IMAGE' : 'UNSUPPORTED_IMAGE', requestId);
      return;
    }
    const filters: Record<string, string> = {};
    const gender = interaction.options.getString('gender');
    const category = interaction.options.getString('category');
    if (gender !== null && gender !== '') filters.gender = gender;
    if (category !== null && category !== '') filters.articleType = category;
    const k = interaction.options.getInteger('k') ?? 6;
    await answerInteraction(interaction, att.url, { k, filters }, requestId);
  }

  async function onFindSimilar(interaction: MessageContextMenuCommandInteraction): Promise<void> {
    const requestId = newRequestId();
    const att = [...interaction.targetMessage.attachments.values()].find(toAttachmentLikeCheck);
    if (att === undefined) {
      await ephemeralError(interaction, 'NO_IMAGE', requestId);
      return;
    }
    await answerInteraction(interaction, att.url, {}, requestId);
  }

  async function answerInteraction(
    interaction: RepliableInteraction,
    url: string,
    opts: { k?: number; filters?: MetadataFilters },
    requestId: string,
  ): Promise<void> {
    const rlog = log.child({ requestId, interactionId: interaction.id, command: commandNameOf(interaction) });
    try {
      await interaction.deferReply();
    } catch (err) {
      rlog.error({ err: safeErr(err) }, 'deferReply failed');
      return;
    }
    try {
      const bytes = await service.fetchImage(url);
      const findOpts: FindSimilarOptions = {
        userId: `discord:${interaction.user.id}`,
        requestId,
        ...(opts.k === undefined ? {} : { k: opts.k }),
        ...(opts.filters === undefined || Object.keys(opts.filters).length === 0 ? {} : { filters: opts.filters }),
      };
      const answer = await service.findSimilar(bytes, findOpts);
      const extraImages = attachImages ? await answer.images() : [];
      const body = renderAnswer(answer, extraImages);
      await interaction.editReply({ ...body, allowedMentions: { parse: [] } });
      rlog.info({ results: answer.results.length }, 'answered command');
    } catch (err) {
      const e = asLookalikeError(err);
      if (e.code !== 'PLATFORM_ERROR') logFailure(rlog, e, 'command failed');
      await deferredErrorToEphemeral(interaction, e.userMessage, rlog);
    }
  }

  /** Errors are ephemeral: drop the public "thinking…" reply, then follow up privately. */
  async function deferredErrorToEphemeral(interaction: RepliableInteraction, text: string, rlog: Logger) {
    try {
      await interaction.deleteReply();
    } catch (err) {
      rlog.warn({ err: safeErr(err) }, 'could not delete the deferred reply');
    }
    try {
      await interaction.followUp({ content: text, flags: MessageFlags.Ephemeral });
    } catch (err) {
      rlog.error({ err: safeErr(err) }, 'error reply failed');
    }
  }

  async function ephemeralError(
    interaction: RepliableInteraction,
    code: keyof typeof USER_MESSAGES,
    requestId: string,
  ): Promise<void> {
    try {
      await interaction.reply({ content: USER_MESSAGES[code], flags: MessageFlags.Ephemeral });
    } catch (err) {
      log.error({ err: safeErr(err), requestId, interactionId: interaction.id }, 'error reply failed');
    }
  }

  function isAdmin(interaction: ChatInputCommandInteraction): boolean {
    if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild) === true) return true;
    const member = interaction.member;
    if (member === null || adminRoles.size === 0) return false;
    const roles = Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
    return roles.some((r) => adminRoles.has(r));
  }

  async function onReindex(interaction: ChatInputCommandInteraction): Promise<void> {
    const requestId = newRequestId();
    const rlog = log.child({ requestId, interactionId: interaction.id, command: 'reindex' });
    if (!isAdmin(interaction)) {
      rlog.info({ userId: interaction.user.id }, 'reindex denied');
      await ephemeralError(interaction, 'FORBIDDEN', requestId);
      return;
    }
    try {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    } catch (err) {
      rlog.error({ err: safeErr(err) }, 'deferReply failed');
      return;
    }
    // Edits go out one at a time, at most every progressIntervalMs; the latest text wins.
    let lastEditAt = 0;
    let chain: Promise<void> = Promise.resolve();
    const edit = (content: string) => {
      chain = chain.then(() =>
        interaction
          .editReply({ content })
          .then(() => undefined)
          .catch((err: unknown) => rlog.warn({ err: safeErr(err) }, 'reindex progress edit failed')),
      );
      return chain;
    };
    const onProgress = (p: ReindexProgress) => {
      const now = Date.now();
      if (now - lastEditAt < progressIntervalMs) return;
      lastEditAt = now;
      void edit(renderProgress(p));
    };
    try {
      rlog.info({ userId: interaction.user.id }, 'reindex started');
      const summary = await service.reindex(onProgress);
      rlog.info({ ...summary, failedFiles: undefined }, 'reindex finished');
      await edit(renderSummary(summary));
    } catch (err) {
      const e = asLookalikeError(err);
      if (e.code === 'REINDEX_IN_PROGRESS') {
        const progress = (e.details.progress as ReindexProgress | null | undefined) ?? null;
        await edit(progress === null ? e.userMessage : `${e.userMessage}\n${renderProgress(progress)}`);
        return;
      }
      logFailure(rlog, e, 'reindex failed');
      await edit(e.userMessage);
    }
  }

  function logFailure(rlog: Logger, e: LookalikeError, msg: string): void {
    if (e.isUserFacing) rlog.info({ code: e.code, reason: e.message }, msg);
    else rlog.error({ err: safeErr(e), code: e.code }, msg);
  }

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

/** Gateway close code for a privileged intent the app may not use. */
const DISALLOWED_INTENTS = 4014;
const AUTHENTICATION_FAILED = 4004;
const MESSAGE_CONTENT_HINT =
  'Discord refused the Message Content intent: enable it in the Developer Portal ' +
  '(your app → Bot → Privileged Gateway Intents → Message Content Intent)';

function gatewayRefusal(code: number): LookalikeError {
  if (code === DISALLOWED_INTENTS)
    return new LookalikeError('PLATFORM_ERROR', MESSAGE_CONTENT_HINT, { details: { code } });
  if (code === AUTHENTICATION_FAILED) {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (gateway authentication failed)', {
      details: { code },
    });
  }
  return new LookalikeError('PLATFORM_ERROR', `Discord closed the gateway with code ${code}`, { details: { code } });
}

function loginError(err: unknown): LookalikeError {
  if (err instanceof LookalikeError) return err;
  if ((err as { code?: unknown } | null)?.code === 'TokenInvalid') {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (401 on GET /gateway/bot)', {
      cause: err,
    });
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/disallowed intents/i.test(text))
    return new LookalikeError('PLATFORM_ERROR', MESSAGE_CONTENT_HINT, { cause: err });
  if (/authentication failed/i.test(text)) {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (gateway authentication failed)', {
      cause: err,
    });
  }
  return new LookalikeError('PLATFORM_ERROR', `Discord login failed: ${text}`, { cause: err });
}

/**
 * discord.js REST errors carry the whole request body (the collage bytes included): log a
 * compact form instead, keeping what helps (status, method, url, Discord's code and message).
 */
function safeErr(err: unknown): unknown {
  if (err === null || typeof err !== 'object') return err;
  const e = err as {
    name?: string;
    message?: string;
    code?: unknown;
    status?: unknown;
    method?: unknown;
    url?: unknown;
    cause?: unknown;
    stack?: string;
  };
  if ('requestBody' in e) {
    return { type: e.name, message: e.message, code: e.code, status: e.status, method: e.method, url: e.url };
  }
  if (e.cause !== undefined && err instanceof Error) {
    return { type: e.name, message: e.message, code: e.code, stack: e.stack, cause: safeErr(e.cause) };
  }
  return err;
}

/** Short request ids, like the service's own. */
function newRequestId(): string {
  return randomUUID().slice(0, 8);
}

function toAttachmentLikeCheck(att: Attachment): boolean {
  return isImageAttachment({ name: att.name, contentType: att.contentType, url: att.url });
}

function commandNameOf(interaction: RepliableInteraction): string | undefined {
  return interaction.isCommand() ? interaction.commandName : undefined;
}
