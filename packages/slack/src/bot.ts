/**
 * The Slack adapter's entry: a Bolt App over the SimilarityService. It builds the listeners'
 * dependencies, registers the listeners (listeners/*.ts) and owns start and stop. HTTP mode
 * exposes a route for the process's one HTTP server; Socket Mode connects out with an app token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_PROGRESS_INTERVAL_MS } from '@lookalike/chat';
import {
  asLookalikeError,
  createMemoryClaims,
  type EventClaims,
  type FeedbackRecorder,
  type Logger,
  LookalikeError,
  type SimilarityService,
} from '@lookalike/core';
import {
  App,
  type BlockButtonAction,
  HTTPReceiver,
  type RespondFn,
  type SlackActionMiddlewareArgs,
  SocketModeReceiver,
  type webApi,
} from '@slack/bolt';
import { slackApi } from './api.js';
import { onAppMention } from './listeners/app-mention.js';
import { onFileShare } from './listeners/file-share.js';
import { onFindSimilarShortcut } from './listeners/find-similar-shortcut.js';
import { onMoreButton } from './listeners/more-like-this.js';
import { onReactionAdded, type ReactionAddedEvent } from './listeners/reaction-added.js';
import { onReindexCommand } from './listeners/reindex-command.js';
import { onReindexButton } from './listeners/reindex-confirm.js';
import { onSimilarCommand } from './listeners/similar-command.js';
import type { MessageEvent, ReindexButtonPress, Respond, ShareEvent, SlackDeps } from './listeners/types.js';
import { MORE_ACTIONS } from './more-value.js';
import { parseReindexButtonValue, REINDEX_ACTIONS } from './render.js';
import { toSlackLogger } from './slack-logger.js';

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
  /** Smallest gap between two chat.update calls of a reindex message. @defaultValue DEFAULT_PROGRESS_INTERVAL_MS (2 s) */
  progressIntervalMs?: number;
  /** How far back /similar looks for the user's photo. @defaultValue 24 h */
  historyWindowMs?: number;
  /**
   * "Answered once" for shares (`slack:<channel>:<ts>`): a share arrives as file_share and as
   * app_mention, and Slack retries events, maybe to another replica. With `REDIS_URL` the
   * runtime passes claims shared by every replica. @defaultValue claims in this process's memory
   */
  claims?: EventClaims;
  /** Records the answers it posts and 👍/👎 reactions on them. @defaultValue none (nothing recorded) */
  feedback?: FeedbackRecorder | undefined;
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

const ephemeral =
  (respond: RespondFn): Respond =>
  (text) =>
    respond({ response_type: 'ephemeral', text });

/** A private answer to a button press: a new ephemeral message, the one with the buttons left alone. */
const privately =
  (respond: RespondFn): Respond =>
  (text) =>
    respond({ response_type: 'ephemeral', replace_original: false, text });

const teamOf = (body: unknown) => (body as { team_id?: string }).team_id;

/** Creates the Slack bot. Nothing connects until start(). */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const { service, botToken } = options;
  const log = options.logger.child({ component: 'slack' });
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

  const inflight = new Set<Promise<unknown>>();
  let state: 'new' | 'running' | 'stopped' = 'new';
  /** Socket Mode: start() began connecting, so stop() must disconnect even if start failed. */
  let connecting = false;

  const shared: Omit<SlackDeps, 'api'> = {
    service,
    log,
    settings: {
      progressIntervalMs: options.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
      historyWindowMs: options.historyWindowMs ?? 24 * 3600_000,
      adminUserIds: options.adminUserIds ?? [],
    },
    state: { runningReindex: undefined },
    claims: options.claims ?? createMemoryClaims(),
    stopping: () => state === 'stopped',
    feedback: options.feedback,
  };
  /** The listeners' dependencies, with the Web API of the client Bolt gave this event. */
  const depsFor = (client: webApi.WebClient): SlackDeps => ({ ...shared, api: slackApi(client, botToken) });

  /** Keeps `task` in the in-flight set until it settles; the caller awaits (and sees) its result. */
  function track(task: Promise<void>): Promise<void> {
    inflight.add(task);
    const forget = () => inflight.delete(task);
    task.then(forget, forget);
    return task;
  }

  app.event('message', async ({ event, body, client, context }) => {
    const ctx = { teamId: teamOf(body), botUserId: context.botUserId };
    await track(onFileShare({ event: event as MessageEvent, context: ctx }, depsFor(client)));
  });

  app.event('app_mention', async ({ event, body, client, context }) => {
    const ctx = { teamId: teamOf(body), botUserId: context.botUserId };
    await track(onAppMention({ event: event as ShareEvent, context: ctx }, depsFor(client)));
  });

  app.event('reaction_added', async ({ event, body, context }) => {
    const ctx = { teamId: teamOf(body), botUserId: context.botUserId };
    await track(onReactionAdded({ event: event as ReactionAddedEvent, context: ctx }, shared));
  });

  app.command('/similar', async ({ command, ack, respond, client }) => {
    await ack();
    await track(onSimilarCommand({ command, respond: ephemeral(respond) }, depsFor(client)));
  });

  app.shortcut('find_similar', async ({ shortcut, ack, respond, client }) => {
    await ack();
    if (shortcut.type !== 'message_action') return;
    await track(onFindSimilarShortcut({ shortcut, respond: ephemeral(respond) }, depsFor(client)));
  });

  app.command('/reindex', async ({ command, ack, respond, client }) => {
    await ack();
    await track(onReindexCommand({ command, respond: ephemeral(respond) }, depsFor(client)));
  });

  /** The /reindex confirmation buttons; a press names its message by channel and ts (or its container). */
  const reindexButton =
    (action: ReindexButtonPress['action']) =>
    async ({
      ack,
      body,
      action: button,
      respond,
      client,
    }: SlackActionMiddlewareArgs<BlockButtonAction> & {
      client: webApi.WebClient;
    }) => {
      await ack();
      const container = body.container as { channel_id?: string; message_ts?: string } | undefined;
      const channel = body.channel?.id ?? container?.channel_id;
      const ts = body.message?.ts ?? container?.message_ts;
      if (channel === undefined || ts === undefined) {
        log.warn({ action, user: body.user.id }, 'reindex button press without its message; ignored');
        return;
      }
      const { asker, maxRemovals } = parseReindexButtonValue(button.value);
      const press: ReindexButtonPress = { action, user: body.user.id, asker, maxRemovals, channel, ts };
      await track(onReindexButton({ press, respond: privately(respond) }, depsFor(client)));
    };
  app.action<BlockButtonAction>(REINDEX_ACTIONS.confirm, reindexButton('confirm'));
  app.action<BlockButtonAction>(REINDEX_ACTIONS.cancel, reindexButton('cancel'));

  /** A result's "More like this": answered in the answer's thread (the button's value carries the chain). */
  app.action<BlockButtonAction>(MORE_ACTIONS.more, async ({ ack, body, action: button, respond, client }) => {
    await ack();
    const container = body.container as { channel_id?: string; message_ts?: string } | undefined;
    const channel = body.channel?.id ?? container?.channel_id;
    const ts = body.message?.ts ?? container?.message_ts;
    if (channel === undefined || ts === undefined) {
      log.warn({ user: body.user.id }, 'more like this press without its message; ignored');
      return;
    }
    const threadTs = (body.message as { thread_ts?: string } | undefined)?.thread_ts ?? ts;
    const press = {
      user: body.user.id,
      team: body.team?.id ?? teamOf(body),
      value: button.value,
      channel,
      ts,
      threadTs,
    };
    await track(onMoreButton({ press, respond: privately(respond) }, depsFor(client)));
  });
  // A link button still sends an interaction, which must be acked; the browser opens the link.
  app.action<BlockButtonAction>(MORE_ACTIONS.open, async ({ ack }) => {
    await ack();
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
