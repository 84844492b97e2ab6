/**
 * End-to-end harness for the Discord adapter: the real discord.js Client (through
 * createDiscordBot) against FakeDiscord on loopback, with the real core service from
 * createTestStack() (untrained ResNet50 on ONNX Runtime, generated catalog, SQLite + FAISS).
 */
import { readFile } from 'node:fs/promises';
import { createDiscordBot, type DiscordBot } from '@lookalike/discord';
import { type RecordingLogger, recordingLogger } from '../chat/fakes.js';
import { FakeDiscord, type RecordedRequest } from '../fakes/discord.js';
import { createTestStack, type TestStack, type TestStackOptions } from '../helpers/stack.js';

// One recording logger for every test (the listener tests, the e2e suites, the Discord bench).
export { type LogEntry, type RecordingLogger, recordingLogger } from '../chat/fakes.js';

export interface Harness {
  fake: FakeDiscord;
  stack: TestStack;
  bot: DiscordBot;
  log: RecordingLogger;
  /** Bytes of a catalog image (a real JPEG/PNG). */
  image(index?: number): Promise<{ bytes: Buffer; filename: string; contentType: string }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  stack?: TestStackOptions;
  attachImages?: boolean;
  progressIntervalMs?: number;
}

/** Starts the stack, the fake and the bot (ready). Close with `harness.close()`. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const stack = await createTestStack(options.stack);
  // Long enough that a busy event loop (inference runs on it) never misses an acknowledgement.
  const fake = await FakeDiscord.start({ heartbeatInterval: 15_000 });
  const log = recordingLogger();
  const bot = createDiscordBot({
    service: stack.service,
    token: fake.token,
    appId: fake.appId,
    watchChannels: [fake.watchedChannelId],
    adminRoleIds: [fake.adminRoleId],
    apiBase: fake.apiBase,
    attachImages: options.attachImages ?? false,
    logger: log,
    progressIntervalMs: options.progressIntervalMs ?? 0,
    clientOptions: { waitGuildTimeout: 2000 },
  });
  try {
    await bot.start();
  } catch (err) {
    await bot.stop().catch(() => {});
    await fake.close();
    await stack.close();
    throw err;
  }
  return {
    fake,
    stack,
    bot,
    log,
    async image(index = 0) {
      const item = stack.items[index % stack.items.length]!;
      const png = item.path.endsWith('.png');
      return {
        bytes: await readFile(item.path),
        filename: `photo-${index}.${png ? 'png' : 'jpg'}`,
        contentType: png ? 'image/png' : 'image/jpeg',
      };
    },
    async close() {
      // Client first, then the fakes (otherwise the shard loops reconnecting).
      await bot.stop();
      await fake.close();
      await stack.close();
    },
  };
}

/** POSTs of new messages to a channel. */
export const isMessagePost = (channelId: string) => (r: RecordedRequest) =>
  r.method === 'POST' && r.path === `/channels/${channelId}/messages` && r.status === 200;

/** Requests belonging to one interaction (callback, @original edits and deletes, follow-ups). */
export const ofInteraction = (i: { id: string; token: string }) => (r: RecordedRequest) =>
  r.path.startsWith(`/interactions/${i.id}/${i.token}/`) || r.path.includes(`/${i.token}`);

/** The payload of a recorded request as a plain object. */
export function payload(r: RecordedRequest): {
  content?: string;
  flags?: number;
  embeds?: { title?: string; description?: string; image?: { url: string }; footer?: { text: string } }[];
  message_reference?: { message_id: string };
  allowed_mentions?: { parse?: string[]; replied_user?: boolean };
  type?: number;
  data?: { flags?: number; content?: string; choices?: { name: string; value: string }[] };
} {
  return (r.json ?? {}) as ReturnType<typeof payload>;
}

/** True for JPEG bytes. */
export function isJpeg(b: Buffer): boolean {
  return b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}
