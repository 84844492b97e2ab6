/**
 * What the Discord listeners need from discord.js objects, as structural types: the real
 * `Message` and interactions satisfy them, and unit tests pass plain objects.
 */

import type { ThrottleClock } from '@lookalike/chat';
import type { EventClaims, FeedbackRecorder, Logger, SimilarityService } from '@lookalike/core';
import type {
  InteractionDeferReplyOptions,
  InteractionEditReplyOptions,
  InteractionReplyOptions,
  InteractionUpdateOptions,
  MessageCreateOptions,
  MessageReplyOptions,
} from 'discord.js';

/** The adapter's settings, as the listeners read them. */
export interface DiscordSettings {
  /** Channel ids where every image post is answered; `'*'` among them for all channels. */
  watchChannels: readonly string[];
  /** Members with one of these roles may run /reindex (besides Manage Guild). */
  adminRoleIds: readonly string[];
  /** Also attach the individual result images. */
  attachImages: boolean;
  /** Minimum time between two /reindex progress edits. */
  progressIntervalMs: number;
}

/** Mutable per-bot state the listeners share. */
export interface DiscordState {
  /** The Message Content hint was logged (it is logged once per process). */
  contentHintLogged: boolean;
}

/** Everything a listener gets besides its event. */
export interface DiscordDeps {
  service: SimilarityService;
  /** The adapter's logger (component "discord"). */
  log: Logger;
  settings: DiscordSettings;
  state: DiscordState;
  /**
   * "Answered once" for image posts, by `discord:<message id>` (a gateway replay, or a message
   * that reached two replicas during a shard hand-over).
   */
  claims: EventClaims;
  /** The bot's own user id, once logged in. */
  botUserId(): string | undefined;
  /** True once stop() began: a message's remaining images are not answered. */
  stopping(): boolean;
  /** The clock of the /reindex progress throttle. @defaultValue the system clock */
  clock?: ThrottleClock | undefined;
  /** Records posted answers and 👍/👎 on them. @defaultValue none (nothing recorded) */
  feedback?: FeedbackRecorder | undefined;
}

/** An attachment as the listeners see it. */
export interface AttachmentInfo {
  name: string;
  contentType: string | null;
  url: string;
}

/** A collection of attachments (discord.js `Collection`, or a `Map` in tests). */
export interface Attachments {
  readonly size: number;
  values(): Iterable<AttachmentInfo>;
}

export interface DiscordChannel {
  /** A thread's parent channel. */
  parentId?: string | null;
  sendTyping?(): Promise<unknown>;
}

/** A MESSAGE_CREATE message. */
export interface DiscordMessage {
  id: string;
  channelId: string;
  content: string;
  system: boolean;
  author: { id: string; bot: boolean };
  mentions: { users: { has(id: string): boolean } };
  attachments: Attachments;
  embeds: readonly unknown[];
  stickers: { readonly size: number };
  channel: DiscordChannel;
  reply(options: MessageReplyOptions): Promise<unknown>;
}

/** An interaction the bot answers (slash command, message command). */
export interface RepliableInteraction {
  id: string;
  user: { id: string };
  deferReply(options?: InteractionDeferReplyOptions): Promise<unknown>;
  editReply(options: InteractionEditReplyOptions): Promise<unknown>;
  deleteReply(): Promise<unknown>;
  followUp(options: InteractionReplyOptions): Promise<unknown>;
  reply(options: InteractionReplyOptions): Promise<unknown>;
}

/** `/similar image:<attachment> [gender] [category] [k]`. */
export interface SimilarCommandInteraction extends RepliableInteraction {
  options: {
    getAttachment(name: string, required?: boolean): AttachmentInfo | null;
    getString(name: string): string | null;
    getInteger(name: string): number | null;
  };
}

/** The "Find similar" message command. */
export interface FindSimilarInteraction extends RepliableInteraction {
  targetMessage: { attachments: Attachments };
}

/** The channel an interaction came from (null when discord.js has not cached it). */
export interface InteractionChannel {
  id: string;
  /** Absent on channels the bot cannot post in (group DMs). */
  send?(options: MessageCreateOptions): Promise<unknown>;
}

/** `/reindex`. */
export interface ReindexCommandInteraction extends RepliableInteraction {
  memberPermissions: { has(permission: bigint): boolean } | null;
  member: { roles: readonly string[] | { cache: { keys(): Iterable<string> } } } | null;
  /** Where the result goes once the interaction's token has expired. */
  channel: InteractionChannel | null;
}

/**
 * A press of a /reindex confirmation button (MESSAGE_COMPONENT). `update` answers it by editing
 * the message the button is on (callback type 7); `editReply` edits that message afterwards.
 */
export interface ReindexButtonInteraction extends ReindexCommandInteraction {
  customId: string;
  update(options: InteractionUpdateOptions): Promise<unknown>;
}

/** An embed of a message a button is on, as a "more like this" press reads it. */
export interface MessageEmbedLike {
  footer: { text: string } | null;
}

/**
 * A press of a "more like this" button (MESSAGE_COMPONENT) under an answer: the chain is read
 * back from `message` (the answer the button is on); the press is answered as a new reply
 * (deferred, then edited).
 */
export interface MoreButtonInteraction extends RepliableInteraction {
  customId: string;
  message: { id: string; embeds: readonly MessageEmbedLike[] };
}

/** A button press as the router reads it: a /reindex confirmation or a "more like this" button. */
export type ButtonInteraction = ReindexButtonInteraction & MoreButtonInteraction;

export interface AutocompleteChoice {
  name: string;
  value: string;
}

/** Autocomplete of `/similar`'s category option. */
export interface AutocompleteInteraction {
  id: string;
  options: { getFocused(full: true): { name: string; value: string | number } };
  respond(choices: AutocompleteChoice[]): Promise<unknown>;
}

/** A slash command: `/similar` or `/reindex` by its name. */
export interface ChatInputInteraction extends SimilarCommandInteraction, ReindexCommandInteraction {
  commandName: string;
}

/** A message command: "Find similar" by its name. */
export interface MessageCommandInteraction extends FindSimilarInteraction {
  commandName: string;
}

/** An INTERACTION_CREATE interaction as the router reads it; discord.js's `Interaction` satisfies it. */
export interface IncomingInteraction {
  isAutocomplete(): this is AutocompleteInteraction;
  isChatInputCommand(): this is ChatInputInteraction;
  isMessageContextMenuCommand(): this is MessageCommandInteraction;
  isButton(): this is ButtonInteraction;
}
