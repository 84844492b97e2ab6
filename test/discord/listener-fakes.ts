/**
 * Plain-object stand-ins for the discord.js objects the listeners read (messages, interactions,
 * channels) and the listeners' dependencies over a fake SimilarityService.
 */

import { createMemoryClaims } from '@lookalike/core';
import type {
  AttachmentInfo,
  DiscordDeps,
  DiscordMessage,
  ReindexButtonInteraction,
  ReindexCommandInteraction,
  RepliableInteraction,
  SimilarCommandInteraction,
} from '@lookalike/discord';
import { type FakeService, fakeService, type RecordingLogger, recordingLogger } from '../chat/fakes.js';

export const BOT_ID = 'bot-1';
export const WATCHED = 'chan-watched';
export const OTHER = 'chan-other';
export const ADMIN_ROLE = 'role-admin';
export const EPHEMERAL = 64;

export interface Built {
  deps: DiscordDeps;
  service: FakeService;
  log: RecordingLogger;
}

export function build(service: FakeService = fakeService(), over: Partial<DiscordDeps> = {}): Built {
  const log = recordingLogger();
  const deps: DiscordDeps = {
    service,
    log,
    settings: { watchChannels: [WATCHED], adminRoleIds: [ADMIN_ROLE], attachImages: false, progressIntervalMs: 0 },
    state: { contentHintLogged: false },
    claims: createMemoryClaims(),
    botUserId: () => BOT_ID,
    stopping: () => false,
    ...over,
  };
  return { deps, service, log };
}

export const image = (n: number, type = 'image/jpeg'): AttachmentInfo => ({
  name: `photo-${n}.jpg`,
  contentType: type,
  url: `https://cdn.discordapp.com/attachments/1/${n}/photo-${n}.jpg`,
});
export const textFile: AttachmentInfo = {
  name: 'notes.txt',
  contentType: 'text/plain',
  url: 'https://cdn/x/notes.txt',
};

export const attachments = (list: AttachmentInfo[]) => new Map(list.map((a, i) => [String(i), a]));

export type Reply = {
  content?: string;
  embeds?: unknown[];
  files?: { name?: string | null }[];
  allowedMentions?: unknown;
};

export function message(
  over: {
    channelId?: string;
    parentId?: string | null;
    content?: string;
    attachments?: AttachmentInfo[];
    mentionsBot?: boolean;
    bot?: boolean;
    system?: boolean;
    replyFails?: boolean;
  } = {},
): DiscordMessage & { replies: Reply[]; typing: number } {
  const msg = {
    id: `msg-${Math.random().toString(36).slice(2)}`,
    channelId: over.channelId ?? WATCHED,
    content: over.content ?? '',
    system: over.system ?? false,
    author: { id: 'user-1', bot: over.bot ?? false },
    mentions: { users: { has: (id: string) => over.mentionsBot === true && id === BOT_ID } },
    attachments: attachments(over.attachments ?? []),
    embeds: [],
    stickers: { size: 0 },
    channel: {
      parentId: over.parentId ?? null,
      sendTyping: async () => {
        msg.typing += 1;
      },
    },
    replies: [] as Reply[],
    typing: 0,
    async reply(body: unknown) {
      if (over.replyFails === true)
        throw Object.assign(new Error('500'), { status: 500, requestBody: { files: ['big'] } });
      msg.replies.push(body as Reply);
      return {};
    },
  };
  return msg;
}

/** A payload as the tests read it (discord.js's option types are wider). */
const asReply = (body: unknown) => body as (Reply & { flags?: number }) | undefined;

export type InteractionCall = { op: string; body?: (Reply & { flags?: number }) | undefined };

export interface InteractionOverrides {
  deferFails?: boolean;
  /** What the n-th editReply (0-based) throws; undefined lets it succeed. */
  editError?: (n: number) => unknown;
}

/** An interaction that records what the listener sent, in order. */
export function interaction(over: InteractionOverrides = {}) {
  const calls: InteractionCall[] = [];
  let edits = 0;
  const base: RepliableInteraction = {
    id: 'int-1',
    user: { id: 'user-2' },
    async deferReply(body) {
      if (over.deferFails === true) throw new Error('Unknown interaction');
      calls.push({ op: 'defer', body: asReply(body) });
    },
    async editReply(body) {
      const err = over.editError?.(edits++);
      calls.push({ op: err === undefined ? 'edit' : 'edit-failed', body: asReply(body) });
      if (err !== undefined) throw err;
    },
    async deleteReply() {
      calls.push({ op: 'delete' });
    },
    async followUp(body) {
      calls.push({ op: 'followUp', body: asReply(body) });
    },
    async reply(body) {
      calls.push({ op: 'reply', body: asReply(body) });
    },
  };
  return { base, calls };
}

export function similar(
  options: { image?: AttachmentInfo | null; gender?: string; category?: string; k?: number },
  over: InteractionOverrides = {},
) {
  const { base, calls } = interaction(over);
  const i: SimilarCommandInteraction = {
    ...base,
    options: {
      getAttachment: (name) => (name === 'image' ? (options.image ?? null) : null),
      getString: (name) =>
        name === 'gender' ? (options.gender ?? null) : name === 'category' ? (options.category ?? null) : null,
      getInteger: (name) => (name === 'k' ? (options.k ?? null) : null),
    },
  };
  return { i, calls };
}

/** A text channel that records the messages sent to it. */
export function channel(id = 'chan-admin') {
  const sent: { content?: string; allowedMentions?: unknown }[] = [];
  return {
    id,
    sent,
    async send(body: unknown) {
      sent.push(body as { content?: string; allowedMentions?: unknown });
      return {};
    },
  };
}

export function reindexInteraction(
  member: { permissions?: bigint[]; roles?: string[] | 'cache' },
  over: InteractionOverrides & { channel?: ReturnType<typeof channel> | null } = {},
) {
  const { base, calls } = interaction(over);
  const roles = member.roles ?? [];
  const ch = over.channel === undefined ? channel() : over.channel;
  const i: ReindexCommandInteraction = {
    ...base,
    memberPermissions: { has: (p) => (member.permissions ?? []).includes(p) },
    member: {
      roles: roles === 'cache' ? { cache: new Map([[ADMIN_ROLE, {}]]) } : roles,
    },
    channel: ch,
  };
  return { i, calls, sent: ch?.sent ?? [] };
}

/**
 * A press of a /reindex button (`customId`) by user `userId` with `member`'s rights. `update` is
 * recorded as op 'update' (callback type 7); editReply edits the message the button is on.
 */
export function buttonPress(
  customId: string,
  userId: string,
  member: { permissions?: bigint[]; roles?: string[] },
  over: InteractionOverrides = {},
) {
  const { i: base, calls, sent } = reindexInteraction(member, over);
  const i: ReindexButtonInteraction = {
    ...base,
    user: { id: userId },
    customId,
    async update(body) {
      calls.push({ op: 'update', body: asReply(body) });
    },
  };
  return { i, calls, sent };
}
