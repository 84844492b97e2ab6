/**
 * What the Slack listeners get: their event (the fields they read, as plain types) and the
 * dependencies every listener shares.
 */
import type { ThrottleClock } from '@lookalike/chat';
import type { EventClaims, FeedbackRecorder, Logger, SimilarityService } from '@lookalike/core';
import type { SlackApi } from '../api.js';
import type { SlackFile } from '../files.js';

export interface SlackSettings {
  /** Smallest gap between two chat.update calls of a reindex message. */
  progressIntervalMs: number;
  /** How far back /similar looks for the user's photo. */
  historyWindowMs: number;
  /** Users allowed to run /reindex besides workspace admins and owners. */
  adminUserIds: readonly string[];
}

/** Mutable state the listeners share. */
export interface SlackState {
  /** The message showing the running reindex, once a `/reindex` of this process really started one. */
  runningReindex: { channel: string; ts: string } | undefined;
}

export interface SlackDeps {
  service: SimilarityService;
  /** The adapter's logger (component "slack"). */
  log: Logger;
  settings: SlackSettings;
  state: SlackState;
  /**
   * "Answered once" for shares, by `slack:<channel>:<ts>`: a share arrives as file_share and
   * app_mention, and Slack retries an event (maybe to another replica, with Redis claims).
   */
  claims: EventClaims;
  api: SlackApi;
  /** True once stop() began: a message's remaining images are not answered. */
  stopping(): boolean;
  /** Time for the history window and the progress throttle. @defaultValue the system clock */
  clock?: ThrottleClock | undefined;
  /** Records posted answers and 👍/👎 on them. @defaultValue none (nothing recorded) */
  feedback?: FeedbackRecorder | undefined;
}

/** Posts a private (ephemeral) answer to a command or shortcut through its response_url. */
export type Respond = (text: string) => Promise<unknown>;

/** A message that shared files, or mentioned the bot. */
export interface ShareEvent {
  channel: string;
  ts: string;
  thread_ts?: string | undefined;
  user?: string | undefined;
  bot_id?: string | undefined;
  files?: SlackFile[] | undefined;
}

/** A `message` event: only subtype file_share is of interest. */
export interface MessageEvent extends ShareEvent {
  subtype?: string | undefined;
}

/** Which workspace an event came from, and who the bot is. */
export interface EventContext {
  teamId: string | undefined;
  /** The bot's own user id: its own messages are ignored. */
  botUserId: string | undefined;
}

/** What an event listener gets: the event and its context. */
export interface SlackEvent<E> {
  event: E;
  context: EventContext;
}

/** The fields of a slash command the listeners read. */
export interface SlashCommandInput {
  text?: string | undefined;
  channel_id: string;
  user_id: string;
  team_id?: string | undefined;
}

/** What a slash command listener gets: the command and its private answer. */
export interface SlashCommandEvent {
  command: SlashCommandInput;
  respond: Respond;
}

/** The "Find similar" message shortcut. */
export interface MessageShortcutInput {
  user: { id: string; team_id?: string | undefined };
  team: { id: string } | null;
  channel: { id: string };
  message: { ts: string; thread_ts?: string; files?: SlackFile[] };
}

/** What the shortcut listener gets: the shortcut and its private answer. */
export interface MessageShortcutEvent {
  shortcut: MessageShortcutInput;
  respond: Respond;
}

/** A press of a /reindex confirmation button, as the listener reads it. */
export interface ReindexButtonPress {
  action: 'confirm' | 'cancel';
  /** Who pressed. */
  user: string;
  /** From the button's value: the admin who ran /reindex. */
  asker: string;
  /**
   * From the button's value: the count the refusal showed; a confirm removes at most that many.
   * Undefined for a value without a count (older buttons): the confirm runs a plain reindex.
   */
  maxRemovals: number | undefined;
  /** Where the message with the buttons is. */
  channel: string;
  ts: string;
}

/** What the button listener gets: the press and a private answer to the presser. */
export interface ReindexButtonEvent {
  press: ReindexButtonPress;
  respond: Respond;
}

/** A press of a result's "More like this" button, as the listener reads it. */
export interface MoreButtonPress {
  /** Who pressed. */
  user: string;
  team: string | undefined;
  /** The button's value (JSON `{ itemId, filters, exclude }`), unchecked. */
  value: string | undefined;
  /** The answer the button is on. */
  channel: string;
  ts: string;
  /** The thread the answer is in (the new answer goes there too); the answer's ts when it is not in one. */
  threadTs: string;
}

/** What the "More like this" listener gets: the press and a private answer to the presser. */
export interface MoreButtonEvent {
  press: MoreButtonPress;
  respond: Respond;
}
