/**
 * The Slack adapter: a Bolt App over the SimilarityService. HTTP mode exposes a route for the
 * process's one HTTP server; Socket Mode connects out with an app-level token.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  asLookalikeError,
  type Logger,
  LookalikeError,
  type MetadataFilters,
  type ReindexProgress,
  type SimilarityService,
  USER_MESSAGES,
} from '@lookalike/core';
import { App, HTTPReceiver, type RespondFn, SocketModeReceiver, type webApi } from '@slack/bolt';
import { parseSimilarArgs } from './args.js';
import { candidateFiles, downloadFile, firstImage, imagesAmong, type SlackFile } from './files.js';
import { describeFilters, renderAnswer, renderProgress, renderSummary } from './render.js';
import { toSlackLogger } from './slack-logger.js';
import { TtlSet } from './ttl-cache.js';

type WebClient = webApi.WebClient;

export interface SlackBotOptions {
  service: SimilarityService;
  /** Bot token, xoxb-…. Never logged. */
  botToken: string;
  /** HTTP mode: requests to /slack/events are verified with it. */
  signingSecret?: string | undefined;
  /** Socket Mode when set (xapp-…); wins over the signing secret. */
  appToken?: string | undefined;
  /** Users allowed to run /reindex besides workspace admins and owners. @defaultValue [] */
  adminUserIds?: readonly string[] | undefined;
  /** Web API base URL (tests point it at a loopback fake). @defaultValue Slack's */
  apiUrl?: string | undefined;
  /** Web API retries per call; tests pass 0. @defaultValue the Web API client's policy */
  retries?: number | undefined;
  logger: Logger;
  /** Results per answer. @defaultValue 6 */
  k?: number;
  /** Smallest gap between two chat.update calls of a reindex message. @defaultValue 2000 */
  progressIntervalMs?: number;
  /** How far back /similar looks for the user's photo. @defaultValue 24 h */
  historyWindowMs?: number;
}

/** A route for the process's one HTTP server. */
export interface SlackRoute {
  method: 'POST';
  path: '/slack/events';
  handler(req: IncomingMessage, res: ServerResponse): void;
}

export interface SlackBot {
  readonly mode: 'http' | 'socket';
  /** HTTP mode only: mount it on the HTTP server. */
  readonly route: SlackRoute | undefined;
  /** Verifies the token (auth.test); in Socket Mode also connects. */
  start(): Promise<void>;
  /** Stops taking requests and waits (up to 10 s) for the ones in flight. */
  stop(): Promise<void>;
}

/** Where an answer goes. */
interface Target {
  channel: string;
  threadTs?: string | undefined;
}

interface HistoryMessage {
  user?: string;
  bot_id?: string;
  ts?: string;
  files?: SlackFile[];
}

const NO_RECENT_IMAGE =
  "I didn't find a photo you shared in this channel in the last 24 hours. Share one (or use the “Find similar” shortcut on a message with a photo), then run /similar again.";
const NO_IMAGE_IN_MESSAGE = 'That message has no image I can search with. Try it on a message with a photo.';
/** Images of one message that get an answer each (the same cap as on Discord). */
export const MAX_IMAGES_PER_MESSAGE = 4;

const NOT_IN_CHANNEL = 'I can’t see this channel. Invite me first (/invite @lookalike), then try again.';

/** Maps Slack Web API failures a person can fix to a friendly LookalikeError. */
function platformError(err: unknown): LookalikeError {
  const code = (err as { data?: { error?: unknown } }).data?.error;
  if (code === 'not_in_channel' || code === 'channel_not_found') {
    return new LookalikeError('PLATFORM_ERROR', `Slack API: ${code}`, { cause: err, userMessage: NOT_IN_CHANNEL });
  }
  return asLookalikeError(err);
}

/** Resolves when `task` settles or after `ms`, whichever comes first. */
async function bounded(task: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([task.then(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Creates the Slack bot. Nothing connects until start(). */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { service, botToken } = options;
  const log = options.logger.child({ component: 'slack' });
  const k = options.k ?? 6;
  const progressIntervalMs = options.progressIntervalMs ?? 2000;
  const historyWindowMs = options.historyWindowMs ?? 24 * 3600_000;
  const admins = new Set(options.adminUserIds ?? []);
  const socketMode = options.appToken !== undefined;
  if (!socketMode && options.signingSecret === undefined) {
    throw new LookalikeError('CONFIG_INVALID', 'Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN', {
      details: { variables: ['SLACK_SIGNING_SECRET'] },
    });
  }

  const clientOptions: webApi.WebClientOptions = {};
  if (options.apiUrl !== undefined) clientOptions.slackApiUrl = options.apiUrl;
  if (options.retries !== undefined) clientOptions.retryConfig = { retries: options.retries };
  const boltLogger = toSlackLogger(log.child({ lib: 'bolt' }));

  let receiver: HTTPReceiver | undefined;
  let socketReceiver: SocketModeReceiver | undefined;
  let app: App;
  if (options.appToken !== undefined) {
    socketReceiver = new SocketModeReceiver({
      appToken: options.appToken,
      logger: boltLogger,
      // A custom SocketModeReceiver does not inherit the App's clientOptions.
      installerOptions: { clientOptions },
    });
    app = new App({
      token: botToken,
      appToken: options.appToken,
      socketMode: true,
      receiver: socketReceiver,
      logger: boltLogger,
      clientOptions,
      convoStore: false,
      deferInitialization: true,
    });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: options.signingSecret ?? '',
      endpoints: '/slack/events',
      logger: boltLogger,
    });
    app = new App({
      token: botToken,
      receiver,
      logger: boltLogger,
      clientOptions,
      convoStore: false,
      deferInitialization: true,
    });
  }

  const seen = new TtlSet();
  const inflight = new Set<Promise<unknown>>();
  let state: 'new' | 'running' | 'stopped' = 'new';
  /** Socket Mode: start() began connecting, so stop() must disconnect even if start failed. */
  let connecting = false;
  let runningReindex: { channel: string; ts: string } | undefined;

  function track(task: Promise<void>): Promise<void> {
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
    return task;
  }

  const userIdOf = (team: string | undefined, user: string) => `slack:${team ?? '-'}:${user}`;

  /** Downloads, searches and posts the collage plus the result list. */
  async function answer(
    client: WebClient,
    target: Target,
    file: SlackFile,
    who: { team: string | undefined; user: string },
    rlog: Logger,
    requestId: string,
    extras: { filters?: MetadataFilters; intro?: string } = {},
  ): Promise<void> {
    const started = Date.now();
    const bytes = await downloadFile(service, file, botToken);
    const result = await service.findSimilar(bytes, {
      userId: userIdOf(who.team, who.user),
      k,
      requestId,
      ...(extras.filters === undefined || Object.keys(extras.filters).length === 0 ? {} : { filters: extras.filters }),
    });
    const thread = target.threadTs === undefined ? {} : { thread_ts: target.threadTs };
    const intro = extras.intro ?? 'Closest matches in the catalog';
    await client.files.uploadV2({
      channel_id: target.channel,
      ...thread,
      file: result.collage,
      filename: `lookalike-${requestId.slice(0, 8)}.jpg`,
      title: 'Lookalikes',
      initial_comment: intro,
    } as webApi.FilesUploadV2Arguments);
    const { text, blocks } = renderAnswer(result, intro);
    await client.chat.postMessage({ channel: target.channel, ...thread, text, blocks });
    rlog.info({ results: result.results.length, ms: Date.now() - started }, 'answered');
  }

  /** Logs a failure and posts its friendly sentence where the person will see it. */
  async function report(err: unknown, rlog: Logger, post: (text: string) => Promise<unknown>): Promise<void> {
    const e = platformError(err);
    if (e.isUserFacing) rlog.info({ code: e.code }, 'request refused');
    else rlog.error({ err: e, code: e.code }, 'request failed');
    try {
      await post(e.userMessage);
    } catch (postErr) {
      rlog.warn({ err: asLookalikeError(postErr) }, 'could not post the error message');
    }
  }

  const inThread = (client: WebClient, target: Target) => (text: string) =>
    client.chat.postMessage({
      channel: target.channel,
      text,
      ...(target.threadTs === undefined ? {} : { thread_ts: target.threadTs }),
    });
  const ephemeral = (respond: RespondFn) => (text: string) => respond({ response_type: 'ephemeral', text });

  /** A photo shared in a channel (file_share) or with a mention: answered once per message. */
  async function onShare(
    client: WebClient,
    ev: { channel: string; ts: string; thread_ts?: string | undefined; user: string; files?: SlackFile[] | undefined },
    team: string | undefined,
    source: 'file_share' | 'app_mention',
  ): Promise<void> {
    const requestId = randomUUID();
    const rlog = log.child({ requestId, source, channel: ev.channel, user: ev.user });
    const target: Target = { channel: ev.channel, threadTs: ev.thread_ts ?? ev.ts };
    try {
      const candidates = candidateFiles(ev.files);
      // A plain share of a PDF is none of our business (a mention of the same message may still ask).
      if (source === 'file_share' && candidates.length === 0) return;
      if (!seen.add(`${ev.channel}:${ev.ts}`)) {
        rlog.debug('share already answered');
        return;
      }
      const images = await imagesAmong(client, candidates, MAX_IMAGES_PER_MESSAGE);
      if (images.length === 0) {
        if (source === 'app_mention') await inThread(client, target)(USER_MESSAGES.NO_IMAGE);
        return;
      }
      // One answer per image, as on Discord. After "slow down" or "busy", the rest would only repeat it.
      for (const [i, file] of images.entries()) {
        const id = i === 0 ? requestId : randomUUID();
        const ilog = i === 0 ? rlog : rlog.child({ requestId: id });
        try {
          await answer(client, target, file, { team, user: ev.user }, ilog, id);
        } catch (err) {
          await report(err, ilog, inThread(client, target));
          const code = platformError(err).code;
          if (code === 'RATE_LIMITED' || code === 'BUSY') break;
        }
      }
    } catch (err) {
      await report(err, rlog, inThread(client, target));
    }
  }

  /** The invoking user's most recent image in the channel within the window. */
  async function findRecentImage(client: WebClient, channel: string, user: string): Promise<SlackFile | undefined> {
    const oldest = String((Date.now() - historyWindowMs) / 1000);
    let cursor: string | undefined;
    for (let page = 0; page < 5; page += 1) {
      const res = await client.conversations.history({
        channel,
        oldest,
        limit: 200,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const m of (res.messages ?? []) as HistoryMessage[]) {
        if (m.user !== user || m.bot_id !== undefined) continue;
        const file = await firstImage(client, m.files);
        if (file !== undefined) return file;
      }
      cursor = res.response_metadata?.next_cursor || undefined;
      if (cursor === undefined) break;
    }
    return undefined;
  }

  async function isAdmin(client: WebClient, user: string, rlog: Logger): Promise<boolean> {
    if (admins.has(user)) return true;
    try {
      const res = await client.users.info({ user });
      const u = res.user as { is_admin?: boolean; is_owner?: boolean; is_primary_owner?: boolean } | undefined;
      return u?.is_admin === true || u?.is_owner === true || u?.is_primary_owner === true;
    } catch (err) {
      rlog.warn({ err: asLookalikeError(err) }, 'users.info failed; treating the user as not an admin');
      return false;
    }
  }

  /** Posts a message, then chat.update with progress at most every `progressIntervalMs`. */
  async function runReindex(client: WebClient, channel: string, user: string, respond: RespondFn): Promise<void> {
    const requestId = randomUUID();
    const rlog = log.child({ requestId, command: '/reindex', channel, user });
    try {
      if (!(await isAdmin(client, user, rlog))) {
        rlog.info('reindex refused: not an admin');
        await respond({ response_type: 'ephemeral', text: USER_MESSAGES.FORBIDDEN });
        return;
      }
      if (service.status().reindexing) {
        await respond({ response_type: 'ephemeral', text: runningText(service.status().reindexProgress) });
        return;
      }
      let ts: string | undefined;
      try {
        const posted = await client.chat.postMessage({ channel, text: renderProgress(null, user) });
        ts = posted.ts;
      } catch (err) {
        rlog.warn({ err: asLookalikeError(err) }, 'cannot post in the channel; answering ephemerally');
        await respond({ response_type: 'ephemeral', text: 'Reindex started. I will tell you here when it is done.' });
      }
      const updater = ts === undefined ? undefined : progressUpdater(client, channel, ts, user, rlog);
      if (ts !== undefined) runningReindex = { channel, ts };
      let text: string;
      try {
        const summary = await service.reindex((p) => updater?.push(p));
        text = renderSummary(summary);
        rlog.info({ summary: { ...summary, failedFiles: undefined } }, 'reindex done');
      } catch (err) {
        const e = asLookalikeError(err);
        if (e.code === 'REINDEX_IN_PROGRESS') {
          text = runningText((e.details.progress as ReindexProgress | undefined) ?? service.status().reindexProgress);
        } else {
          rlog.error({ err: e, code: e.code }, 'reindex failed');
          text = `:x: ${e.userMessage}`;
        }
      } finally {
        if (runningReindex?.ts === ts) runningReindex = undefined;
      }
      if (updater !== undefined) await updater.finish(text);
      else await respond({ response_type: 'ephemeral', text });
    } catch (err) {
      await report(err, rlog, ephemeral(respond));
    }
  }

  function runningText(progress: ReindexProgress | null): string {
    const where = runningReindex === undefined ? '' : ` Progress is shown in <#${runningReindex.channel}>.`;
    return `${USER_MESSAGES.REINDEX_IN_PROGRESS}${where}\n${renderProgress(progress)}`;
  }

  function progressUpdater(client: WebClient, channel: string, ts: string, user: string, rlog: Logger) {
    let lastWrite = Date.now();
    let latest: ReindexProgress | undefined;
    let timer: NodeJS.Timeout | undefined;
    let chain: Promise<unknown> = Promise.resolve();
    let closed = false;
    const write = (text: string) => {
      lastWrite = Date.now();
      chain = chain
        .then(() => client.chat.update({ channel, ts, text }))
        .catch((err: unknown) => rlog.warn({ err: asLookalikeError(err) }, 'chat.update failed'));
    };
    const flush = () => {
      timer = undefined;
      if (closed || latest === undefined) return;
      const p = latest;
      latest = undefined;
      write(renderProgress(p, user));
    };
    return {
      push(p: ReindexProgress): void {
        if (closed) return;
        latest = p;
        if (timer !== undefined) return;
        timer = setTimeout(flush, Math.max(0, lastWrite + progressIntervalMs - Date.now()));
      },
      async finish(text: string): Promise<void> {
        closed = true;
        if (timer !== undefined) clearTimeout(timer);
        write(text);
        await chain;
      },
    };
  }

  // ---- listeners -------------------------------------------------------------------------

  app.event('message', async ({ event, body, client, context }) => {
    if (event.subtype !== 'file_share') return;
    const ev = event as typeof event & { bot_id?: string; files?: SlackFile[] };
    if (ev.bot_id !== undefined || ev.user === context.botUserId) return;
    await track(onShare(client, ev, (body as { team_id?: string }).team_id, 'file_share'));
  });

  app.event('app_mention', async ({ event, body, client, context }) => {
    if (event.user === undefined || event.bot_id !== undefined || event.user === context.botUserId) return;
    const ev = { ...event, user: event.user, files: event.files as SlackFile[] | undefined };
    await track(onShare(client, ev, (body as { team_id?: string }).team_id, 'app_mention'));
  });

  app.command('/similar', async ({ command, ack, respond, client }) => {
    await ack();
    const requestId = randomUUID();
    const rlog = log.child({ requestId, command: '/similar', channel: command.channel_id, user: command.user_id });
    await track(
      (async () => {
        try {
          const { filters, unknown } = parseSimilarArgs(command.text ?? '', service.facets());
          if (unknown.length > 0) {
            const known = service.facets();
            await respond({
              response_type: 'ephemeral',
              text: `I don't know ${unknown.map((u) => `“${u}”`).join(', ')}. Usage: /similar [gender] [category], e.g. /similar women shirts. Genders: ${known.genders.slice(0, 6).join(', ')}. Categories include: ${known.articleTypes.slice(0, 12).join(', ')}.`,
            });
            return;
          }
          let file: SlackFile | undefined;
          try {
            file = await findRecentImage(client, command.channel_id, command.user_id);
          } catch (err) {
            throw platformError(err);
          }
          if (file === undefined) {
            await respond({ response_type: 'ephemeral', text: NO_RECENT_IMAGE });
            return;
          }
          const f = describeFilters(filters);
          const intro = `Lookalikes for <@${command.user_id}>'s latest photo${f.length > 0 ? ` (${f})` : ''}`;
          await answer(
            client,
            { channel: command.channel_id },
            file,
            { team: command.team_id, user: command.user_id },
            rlog,
            requestId,
            { filters, intro },
          );
        } catch (err) {
          await report(err, rlog, ephemeral(respond));
        }
      })(),
    );
  });

  app.shortcut('find_similar', async ({ shortcut, ack, respond, client }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    const requestId = randomUUID();
    const user = shortcut.user.id;
    const channel = shortcut.channel.id;
    const rlog = log.child({ requestId, shortcut: 'find_similar', channel, user });
    const message = shortcut.message as { ts: string; thread_ts?: string; files?: SlackFile[] };
    await track(
      (async () => {
        try {
          const file = await firstImage(client, message.files);
          if (file === undefined) {
            await respond({ response_type: 'ephemeral', text: NO_IMAGE_IN_MESSAGE });
            return;
          }
          const target = { channel, threadTs: message.thread_ts ?? message.ts };
          await answer(
            client,
            target,
            file,
            { team: shortcut.team?.id ?? shortcut.user.team_id, user },
            rlog,
            requestId,
            {
              intro: `Lookalikes, as asked by <@${user}>`,
            },
          );
        } catch (err) {
          await report(err, rlog, ephemeral(respond));
        }
      })(),
    );
  });

  app.command('/reindex', async ({ command, ack, respond, client }) => {
    await ack();
    await track(runReindex(client, command.channel_id, command.user_id, respond));
  });

  app.error(async (err) => {
    log.error({ err: asLookalikeError(err), code: (err as { code?: unknown }).code }, 'Bolt error');
  });

  // ---- lifecycle -------------------------------------------------------------------------

  const route: SlackRoute | undefined =
    receiver === undefined
      ? undefined
      : {
          method: 'POST',
          path: '/slack/events',
          handler(req, res) {
            if (state !== 'running') {
              res.writeHead(503, { 'content-type': 'text/plain' }).end('Slack bot not running');
              return;
            }
            try {
              receiver.requestListener(req, res);
            } catch (err) {
              log.warn({ err: asLookalikeError(err) }, 'unroutable Slack request');
              if (!res.headersSent) res.writeHead(404).end();
            }
          },
        };

  return {
    mode: socketMode ? 'socket' : 'http',
    route,
    async start() {
      if (state !== 'new') throw new LookalikeError('INTERNAL', `Slack bot cannot start from state ${state}`);
      try {
        await app.init();
        if (socketMode) {
          connecting = true;
          await app.start();
        }
      } catch (err) {
        throw new LookalikeError('PLATFORM_ERROR', 'Slack start-up failed (check SLACK_BOT_TOKEN / SLACK_APP_TOKEN)', {
          cause: err,
          details: { slackError: (err as { data?: { error?: unknown } }).data?.error },
        });
      }
      state = 'running';
      log.info({ mode: socketMode ? 'socket' : 'http' }, 'Slack bot started');
    },
    async stop() {
      if (state === 'stopped') return;
      state = 'stopped';
      if (socketReceiver !== undefined && connecting) {
        // Bolt's app.stop() does not wait for the close handshake; an unfinished one leaves a
        // 30 s timer behind. Disconnect the client directly and wait for it (bounded).
        try {
          await bounded(socketReceiver.client.disconnect(), 5000);
        } catch (err) {
          log.warn({ err: asLookalikeError(err) }, 'Socket Mode stop failed');
        }
      }
      if (inflight.size > 0) await bounded(Promise.allSettled([...inflight]), 10_000);
      log.info('Slack bot stopped');
    },
  };
}
