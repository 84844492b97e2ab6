/**
 * Slack file objects: picking images, completing partial objects with files.info, and the
 * reference the service downloads them by (with the bot token).
 */
import { type ImageRef, LookalikeError } from '@lookalike/core';

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

/** Looks a file up by id (files.info). */
export type FileInfo = (id: string) => Promise<SlackFile | undefined>;

/** The images among the files, in order, at most `limit`, completing partial objects with files.info. */
export async function imagesAmong(
  files: readonly SlackFile[] | undefined,
  limit: number,
  fileInfo: FileInfo,
): Promise<SlackFile[]> {
  const images: SlackFile[] = [];
  for (const file of candidateFiles(files)) {
    if (images.length >= limit) break;
    let full = file;
    if (isPartialFile(file) && file.id !== undefined) full = (await fileInfo(file.id)) ?? {};
    if (isImageFile(full) && (full.url_private_download ?? full.url_private) !== undefined) images.push(full);
  }
  return images;
}

/**
 * The first image among the files.
 * @returns undefined when none is an image.
 */
export async function firstImage(
  files: readonly SlackFile[] | undefined,
  fileInfo: FileInfo,
): Promise<SlackFile | undefined> {
  return (await imagesAmong(files, 1, fileInfo))[0];
}

/**
 * What the service downloads: the file's private URL with the bot's Authorization header. An
 * HTML login page instead of the image becomes FETCH_NOT_IMAGE with the files:read hint.
 * @throws LookalikeError NO_IMAGE when the file has no private URL
 */
export function imageRefOf(file: SlackFile, headers: Record<string, string>): ImageRef {
  const url = file.url_private_download ?? file.url_private;
  if (url === undefined) throw new LookalikeError('NO_IMAGE', 'Slack file has no private URL');
  return { url, headers, notImageHint: FILES_READ_HINT };
}
