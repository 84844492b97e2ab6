/**
 * Reads one uploaded image from a request: multipart/form-data (busboy, with a file size
 * limit enforced while streaming) or a raw image body.
 */
import type { IncomingMessage } from 'node:http';
import { type ImageLimits, imageTooLarge, LookalikeError } from '@lookalike/core';
import busboy from 'busboy';

export interface Upload {
  bytes: Buffer;
  filename: string | undefined;
  /** Text fields (first value of each name). */
  fields: Record<string, string>;
}

export interface ReadUploadOptions {
  /** The configured image limits: `maxBytes` bounds the file, and both are quoted when it is exceeded. */
  limits: ImageLimits;
}

/**
 * @throws LookalikeError NO_IMAGE (no file, malformed body), IMAGE_TOO_LARGE,
 *   UNSUPPORTED_IMAGE (a body type that is neither multipart nor raw bytes)
 */
export function readUpload(req: IncomingMessage, options: ReadUploadOptions): Promise<Upload> {
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  const declared = Number(req.headers['content-length']);
  // Multipart framing adds a little; anything far beyond the file limit is refused unread.
  if (Number.isFinite(declared) && declared > options.limits.maxBytes + 64 * 1024) {
    return Promise.reject(imageTooLarge(`Upload of ${declared} bytes`, options.limits, { bytes: declared }));
  }
  if (type.startsWith('multipart/form-data')) return readMultipart(req, options);
  if (type.startsWith('image/') || type.startsWith('application/octet-stream')) return readRaw(req, options);
  return Promise.reject(
    new LookalikeError('UNSUPPORTED_IMAGE', `Unsupported request body type ${type || '(none)'}`, {
      details: { contentType: type },
    }),
  );
}

function readRaw(req: IncomingMessage, options: ReadUploadOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      total += chunk.length;
      if (total > options.limits.maxBytes) {
        done = true;
        chunks.length = 0;
        reject(imageTooLarge(`Upload over ${options.limits.maxBytes} bytes`, options.limits));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      if (total === 0) reject(new LookalikeError('NO_IMAGE', 'Empty request body'));
      else resolve({ bytes: Buffer.concat(chunks, total), filename: undefined, fields: {} });
    });
    req.on('error', (err) => {
      if (done) return;
      done = true;
      reject(new LookalikeError('NO_IMAGE', 'Upload interrupted', { cause: err }));
    });
  });
}

function readMultipart(req: IncomingMessage, options: ReadUploadOptions): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: req.headers,
        limits: {
          fileSize: options.limits.maxBytes,
          files: 1,
          fields: 20,
          fieldSize: 4096,
          parts: 30,
          headerPairs: 50,
        },
      });
    } catch (cause) {
      reject(new LookalikeError('NO_IMAGE', 'Malformed multipart request', { cause }));
      return;
    }
    const fields: Record<string, string> = {};
    let file: { bytes: Buffer; filename: string | undefined } | undefined;
    let fileSeen = false;
    let settled = false;
    let pendingFile: Promise<void> = Promise.resolve();

    const fail = (err: LookalikeError) => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      req.resume(); // drain what the client still sends; the server's requestTimeout bounds it
      reject(err);
    };

    bb.on('field', (name, value) => {
      if (!(name in fields)) fields[name] = value;
    });
    bb.on('file', (_name, stream, info) => {
      if (fileSeen) {
        stream.resume();
        return;
      }
      fileSeen = true;
      const chunks: Buffer[] = [];
      let total = 0;
      pendingFile = new Promise<void>((done) => {
        stream.on('data', (chunk: Buffer) => {
          total += chunk.length;
          chunks.push(chunk);
        });
        stream.on('limit', () => {
          chunks.length = 0;
          fail(imageTooLarge(`Upload over ${options.limits.maxBytes} bytes`, options.limits));
          stream.resume();
        });
        stream.on('end', () => {
          if (!settled) file = { bytes: Buffer.concat(chunks, total), filename: info.filename };
          done();
        });
        stream.on('error', () => done());
      });
    });
    bb.on('error', (cause) => fail(new LookalikeError('NO_IMAGE', 'Malformed multipart request', { cause })));
    bb.on('close', () => {
      void pendingFile.then(() => {
        if (settled) return;
        if (file === undefined || file.bytes.length === 0) {
          // An empty file part is a file the user chose that has no bytes: not an image.
          if (file !== undefined) {
            fail(new LookalikeError('UNSUPPORTED_IMAGE', 'Uploaded file is empty'));
            return;
          }
          fail(new LookalikeError('NO_IMAGE', 'No file in the upload'));
          return;
        }
        settled = true;
        resolve({ bytes: file.bytes, filename: file.filename, fields });
      });
    });
    req.on('error', (cause) => fail(new LookalikeError('NO_IMAGE', 'Upload interrupted', { cause })));
    req.pipe(bb);
  });
}
