/**
 * End-to-end harness for the Slack adapter: the real core service (untrained weights, small
 * generated catalog), the real Bolt App behind the process's one HTTP server, and a loopback
 * fake Slack. Teardown order: bot, HTTP server, fake, stack.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '@lookalike/core';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { createSlackBot, type SlackBot, type SlackBotOptions } from '@lookalike/slack';
import { pino } from 'pino';
import { FakeSlack, type FakeSlackOptions, SlackSigner } from '../fakes/slack.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

/** Logs of the code under test: silent unless SLACK_TEST_LOG_LEVEL is set (e.g. debug). */
export function testLogger(): Logger {
  return pino({ level: process.env.SLACK_TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
}

export interface SlackHarness {
  stack: TestStack;
  fake: FakeSlack;
  bot: SlackBot;
  http: HttpServer | undefined;
  /** Posts signed requests to the bot's /slack/events (HTTP mode only). */
  signer: SlackSigner;
  /** A JPEG photo from the generated catalog, to share. */
  photo: Buffer;
  close(): Promise<void>;
}

export interface HarnessOptions {
  socketMode?: boolean;
  fake?: FakeSlackOptions;
  bot?: Partial<Pick<SlackBotOptions, 'adminUserIds' | 'progressIntervalMs'>>;
  /** An existing stack to reuse (the harness will not close it). */
  stack?: TestStack;
}

export async function startSlackHarness(options: HarnessOptions = {}): Promise<SlackHarness> {
  const ownsStack = options.stack === undefined;
  const stack = options.stack ?? (await createTestStack());
  const logger = testLogger();
  const fake = await FakeSlack.start(options.fake);
  const bot = createSlackBot({
    service: stack.service,
    botToken: fake.botToken,
    ...(options.socketMode === true ? { appToken: fake.appToken } : { signingSecret: SIGNING_SECRET }),
    apiUrl: fake.apiUrl,
    retries: 0,
    logger,
    ...options.bot,
  });
  let http: HttpServer | undefined;
  let url = `${fake.origin}/nowhere`;
  await bot.start();
  if (bot.route !== undefined) {
    http = createHttpServer({ service: stack.service, logger, localPage: false, routes: [bot.route] });
    const { port } = await http.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${port}/slack/events`;
  }
  const signer = new SlackSigner(url, SIGNING_SECRET, fake);
  const first = stack.items.find((i) => i.path.endsWith('.jpg'));
  if (first === undefined) throw new Error('test catalog has no JPEG');
  const photo = await readFile(first.path);
  return {
    stack,
    fake,
    bot,
    http,
    signer,
    photo,
    async close() {
      await bot.stop();
      await http?.close();
      await fake.stop();
      if (ownsStack) await stack.close();
    },
  };
}

/** A file_share message event for a file on the fake. */
export function fileShareEvent(
  fake: FakeSlack,
  fields: { channel: string; user: string; files: unknown[]; text?: string; ts?: string },
): Record<string, unknown> & { ts: string } {
  const ts = fields.ts ?? fake.nextTs();
  return {
    type: 'message',
    subtype: 'file_share',
    channel: fields.channel,
    channel_type: 'channel',
    user: fields.user,
    text: fields.text ?? '',
    ts,
    event_ts: ts,
    files: fields.files,
    upload: false,
    display_as_bot: false,
  };
}
