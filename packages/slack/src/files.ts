/**
 * Slack file objects: picking images, completing partial objects with files.info,
 * downloading through the core's safe fetcher with the bot token.
 */
import { LookalikeError, type SimilarityService } from '@lookalike/core';
import type { webApi } from '@slack/bolt';

/** The fields of a Slack file object the bot uses (full or partial). */
export interface SlackFile {
  id?: string;
  name?: string;
  mimetype?: string;
  filetype?: string;
  url_private?: string;
  url_private_download?: string;
  /** "check_file_info" marks a partial object: call files.info. */
  file_access?: string;
}

/** Added to FETCH_NOT_IMAGE: Slack answers a download without a valid token with its HTML login page. */
export const FILES_READ_HINT = 'Check that the app has the files:read scope.';

export function isImageFile(file: SlackFile): boolean {
  return typeof file.mimetype === 'string' && file.mimetype.toLowerCase().startsWith('image/');
}

export function isPartialFile(file: SlackFile): boolean {
  return file.file_access === 'check_file_info' || (file.id !== undefined && file.url_private === undefined);
}

/** Files worth looking at: images, and partial objects whose type is not known yet. */
export function candidateFiles(files: readonly SlackFile[] | undefined): SlackFile[] {
  return (files ?? []).filter((f) => isImageFile(f) || isPartialFile(f));
}

/**
 * The images among the files, in order, at most `limit`, completing partial objects with files.info.
 */
export async function imagesAmong(
  client: webApi.WebClient,
  files: readonly SlackFile[] | undefined,
  limit: number,
): Promise<SlackFile[]> {
  const images: SlackFile[] = [];
  for (const file of candidateFiles(files)) {
    if (images.length >= limit) break;
    let full = file;
    if (isPartialFile(file) && file.id !== undefined) {
      const info = await client.files.info({ file: file.id });
      full = (info.file ?? {}) as SlackFile;
    }
    if (isImageFile(full) && (full.url_private_download ?? full.url_private) !== undefined) images.push(full);
  }
  return images;
}

/**
 * The first image among the files.
 * @returns undefined when none is an image.
 */
export async function firstImage(
  client: webApi.WebClient,
  files: readonly SlackFile[] | undefined,
): Promise<SlackFile | undefined> {
  return (await imagesAmong(client, files, 1))[0];
}

/**
 * Downloads a Slack file with the bot token via the service's fetcher (allowlist, limits,
 * sniffing). An HTML login page becomes FETCH_NOT_IMAGE with the files:read hint.
 */
export async function downloadFile(service: SimilarityService, file: SlackFile, botToken: string): Promise<Buffer> {
  const url = file.url_private_download ?? file.url_private;
  if (url === undefined) throw new LookalikeError('NO_IMAGE', 'Slack file has no private URL');
  return service.fetchImage(url, {
    headers: { Authorization: `Bearer ${botToken}` },
    notImageHint: FILES_READ_HINT,
  });
}
