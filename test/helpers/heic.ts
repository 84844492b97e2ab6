/**
 * Test helper: real HEIC files made with `heif-enc` (Debian's libheif-examples, installed by
 * `npm run setup`), the encoder iPhones' format comes from. Nothing is committed: each test makes
 * its fixtures from a PNG of a generated image.
 *
 *   const heic = await encodeHeic(await sharp(jpegPath).png().toBuffer(), { quality: 90 });
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TEST_TMP_DIR } from './models.js';

const run = promisify(execFile);

export interface EncodeHeicOptions {
  /** heif-enc quality, 0–100. @defaultValue 90 */
  quality?: number;
}

/**
 * Encodes a PNG (or JPEG) as HEIC with `heif-enc` (HEVC via x265).
 * @throws Error naming the missing package when heif-enc is not installed (never a skip)
 */
export async function encodeHeic(image: Uint8Array, options: EncodeHeicOptions = {}): Promise<Buffer> {
  await mkdir(TEST_TMP_DIR, { recursive: true });
  const dir = await mkdtemp(join(TEST_TMP_DIR, 'heic-'));
  try {
    const png = join(dir, 'in.png');
    const out = join(dir, 'out.heic');
    await writeFile(png, image);
    try {
      await run('heif-enc', ['-q', String(options.quality ?? 90), '-o', out, png]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(
          "heif-enc is not installed: the HEIC tests need Debian's libheif-examples (`npm run setup` installs it, or `apt-get install -y libheif-examples`)",
        );
      }
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`heif-enc failed: ${(err as Error).message} ${stderr}`.trim());
    }
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
