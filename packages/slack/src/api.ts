/**
 * The Slack Web API calls the listeners make, as small functions over a Bolt `WebClient`.
 * Unit tests pass a fake SlackApi instead.
 */
import type { webApi } from '@slack/bolt';
import type { SlackFile } from './files.js';
import type { Block } from './render.js';

/** A message of conversations.history, as the bot reads it. */
export interface HistoryMessage {
  user?: string;
  bot_id?: string;
  ts?: string;
  files?: SlackFile[];
}

export interface SlackApi {
  /** chat.postMessage; resolves with the message's ts. */
  postMessage(message: {
    channel: string;
    text: string;
    threadTs?: string | undefined;
    blocks?: Block[];
  }): Promise<{ ts: string | undefined }>;
  /** chat.update. Without `blocks` the message keeps its blocks; `blocks: []` removes them. */
  updateMessage(message: { channel: string; ts: string; text: string; blocks?: Block[] }): Promise<void>;
  /** files.uploadV2 (getUploadURLExternal → upload → completeUploadExternal). */
  uploadFile(file: {
    channel: string;
    threadTs?: string | undefined;
    bytes: Buffer;
    filename: string;
    title: string;
    comment: string;
  }): Promise<void>;
  /** files.info. */
  fileInfo(id: string): Promise<SlackFile | undefined>;
  /** One page of conversations.history since `oldest` (seconds). */
  history(query: {
    channel: string;
    oldest: string;
    cursor?: string | undefined;
  }): Promise<{ messages: HistoryMessage[]; nextCursor: string | undefined }>;
  /** users.info: whether the user is a workspace admin or owner. */
  isWorkspaceAdmin(user: string): Promise<boolean>;
  /** Headers that authorize a download of a private file (the bot token). Never log them. */
  downloadHeaders(): Record<string, string>;
}

const thread = (ts: string | undefined) => (ts === undefined ? {} : { thread_ts: ts });

/** The SlackApi of one Bolt client. */
export function slackApi(client: webApi.WebClient, botToken: string): SlackApi {
  return {
    async postMessage({ channel, text, threadTs, blocks }) {
      const res = await client.chat.postMessage({
        channel,
        text,
        ...thread(threadTs),
        ...(blocks === undefined ? {} : { blocks }),
      });
      return { ts: res.ts };
    },
    async updateMessage({ channel, ts, text, blocks }) {
      await client.chat.update({ channel, ts, text, ...(blocks === undefined ? {} : { blocks }) });
    },
    async uploadFile({ channel, threadTs, bytes, filename, title, comment }) {
      await client.files.uploadV2({
        channel_id: channel,
        ...thread(threadTs),
        file: bytes,
        filename,
        title,
        initial_comment: comment,
      } as webApi.FilesUploadV2Arguments);
    },
    async fileInfo(id) {
      const info = await client.files.info({ file: id });
      return info.file as SlackFile | undefined;
    },
    async history({ channel, oldest, cursor }) {
      const res = await client.conversations.history({
        channel,
        oldest,
        limit: 200,
        ...(cursor === undefined ? {} : { cursor }),
      });
      return {
        messages: (res.messages ?? []) as HistoryMessage[],
        nextCursor: res.response_metadata?.next_cursor || undefined,
      };
    },
    async isWorkspaceAdmin(user) {
      const res = await client.users.info({ user });
      const u = res.user as { is_admin?: boolean; is_owner?: boolean; is_primary_owner?: boolean } | undefined;
      return u?.is_admin === true || u?.is_owner === true || u?.is_primary_owner === true;
    },
    downloadHeaders: () => ({ Authorization: `Bearer ${botToken}` }),
  };
}
