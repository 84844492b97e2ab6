/**
 * The HTTP server's API on the real stack: uploads, errors as friendly JSON, health, status,
 * mounted routes, LOCAL_PAGE off.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  DEFAULT_IMAGE_LIMITS,
  type ImageLimits,
  imageTooLargeSentence,
  parseConfig,
  serviceSettingsFrom,
  USER_MESSAGES,
} from '@lookalike/core';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import sharp from 'sharp';
import { createTestStack, type TestStack } from '../helpers/stack.js';

interface Running {
  http: HttpServer;
  base: string;
}

async function start(http: HttpServer): Promise<Running> {
  const { port } = await http.listen(0, '127.0.0.1');
  return { http, base: `http://127.0.0.1:${port}` };
}

function upload(bytes: Uint8Array, name: string, type: string, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('image', new Blob([new Uint8Array(bytes)], { type }), name);
  return form;
}

interface ErrorBody {
  error: { code: string; message: string };
}

/** The page server's limits in these tests: 2 MiB, so an oversized upload is cheap to send. */
const LIMITS: ImageLimits = { ...DEFAULT_IMAGE_LIMITS, maxBytes: 2 * 1024 * 1024 };

/** The sentence a person sees for each code (IMAGE_TOO_LARGE quotes the configured limits). */
function userSentence(code: string): string {
  if (code === 'IMAGE_TOO_LARGE') return imageTooLargeSentence(LIMITS);
  return USER_MESSAGES[code as keyof typeof USER_MESSAGES];
}

describe('HTTP API', () => {
  let stack: TestStack;
  let page: Running;
  let photo: Buffer;

  before(async () => {
    stack = await createTestStack({ catalogSize: 16 });
    page = await start(createHttpServer({ service: stack.service, localPage: true, imageLimits: LIMITS }));
    const item = stack.items.find((i) => i.path.endsWith('.jpg'));
    assert.ok(item !== undefined);
    photo = await readFile(item.path);
  });

  after(async () => {
    await page?.http.close();
    await stack?.close();
  });

  test('GIVEN a photo posted as multipart THEN 6 results, a collage URL and result image URLs that work', async () => {
    const res = await fetch(`${page.base}/api/similar`, {
      method: 'POST',
      body: upload(photo, 'me.jpg', 'image/jpeg'),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      requestId: string;
      results: { rank: number; name: string; subtitle: string; similarity: number; imageUrl: string }[];
      weights: { untrained: boolean };
      notices: { code: string; text: string }[];
      noCloseMatch: boolean;
      collage: string;
    };
    assert.equal(body.results.length, 6);
    assert.equal(body.weights.untrained, true);
    assert.ok(body.notices.some((n) => n.code === 'UNTRAINED' && n.text.length > 0));
    for (const r of body.results) {
      assert.ok(r.name.length > 0 && r.subtitle.includes(' · '));
      assert.ok(!('path' in r), 'server file paths are not exposed');
    }
    const collage = await fetch(`${page.base}${body.collage}`);
    assert.equal(collage.status, 200);
    assert.equal(collage.headers.get('content-type'), 'image/jpeg');
    const meta = await sharp(Buffer.from(await collage.arrayBuffer())).metadata();
    assert.equal(meta.format, 'jpeg');
    const first = body.results[0];
    assert.ok(first !== undefined);
    const thumb = await fetch(`${page.base}${first.imageUrl}`);
    assert.equal(thumb.status, 200);
    assert.match(thumb.headers.get('content-type') ?? '', /^image\/(jpeg|png)$/);
  });

  test('GIVEN filter fields THEN every result matches them', async () => {
    const res = await fetch(`${page.base}/api/similar`, {
      method: 'POST',
      body: upload(photo, 'me.jpg', 'image/jpeg', { articleType: 'Dresses', k: '3', gender: '' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { results: { metadata: { articleType: string } }[] };
    assert.ok(body.results.length > 0 && body.results.length <= 3);
    for (const r of body.results) assert.equal(r.metadata.articleType, 'Dresses');
  });

  test('GIVEN a raw image body THEN it is answered too', async () => {
    const res = await fetch(`${page.base}/api/similar`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: new Uint8Array(photo),
    });
    assert.equal(res.status, 200);
  });

  test('GIVEN bad files THEN the right status and the friendly sentence, never a stack', async () => {
    const cases: { body: FormData | string; headers?: Record<string, string>; status: number; code: string }[] = [
      {
        body: upload(Buffer.from('just some notes\n'), 'photo.jpg', 'image/jpeg'),
        status: 415,
        code: 'UNSUPPORTED_IMAGE',
      },
      {
        body: upload(photo.subarray(0, photo.length >> 1), 'cut.jpg', 'image/jpeg'),
        status: 400,
        code: 'IMAGE_DECODE_FAILED',
      },
      { body: upload(new Uint8Array(0), 'empty.jpg', 'image/jpeg'), status: 415, code: 'UNSUPPORTED_IMAGE' },
      { body: upload(Buffer.alloc(3 * 1024 * 1024, 1), 'big.jpg', 'image/jpeg'), status: 413, code: 'IMAGE_TOO_LARGE' },
      {
        body: (() => {
          const f = new FormData();
          f.append('k', '6');
          return f;
        })(),
        status: 400,
        code: 'NO_IMAGE',
      },
      {
        body: '{"image":"x"}',
        headers: { 'content-type': 'application/json' },
        status: 415,
        code: 'UNSUPPORTED_IMAGE',
      },
      {
        body: '--nope\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nxx',
        headers: { 'content-type': 'multipart/form-data; boundary=other' },
        status: 400,
        code: 'NO_IMAGE',
      },
    ];
    for (const c of cases) {
      const res = await fetch(`${page.base}/api/similar`, {
        method: 'POST',
        body: c.body,
        ...(c.headers === undefined ? {} : { headers: c.headers }),
      });
      const body = (await res.json()) as ErrorBody;
      assert.equal(res.status, c.status, `${c.code}: got ${res.status} ${JSON.stringify(body)}`);
      assert.equal(body.error.code, c.code);
      assert.equal(body.error.message, userSentence(c.code));
      assert.ok(!JSON.stringify(body).includes('    at '));
    }
    const health = await fetch(`${page.base}/healthz`);
    assert.equal(health.status, 200, 'still alive');
  });

  test('GIVEN a chunked upload (no Content-Length) over the limit THEN 413 while streaming', async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0xff);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8 * 1024 * 1024) {
          controller.close();
          return;
        }
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${page.base}/api/similar`, {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(res.status, 413);
    const tooLarge = (await res.json()) as ErrorBody;
    assert.equal(tooLarge.error.code, 'IMAGE_TOO_LARGE');
    assert.match(tooLarge.error.message, /under 2 MB and 40 megapixels/, 'quotes the configured limits');
    assert.equal((await fetch(`${page.base}/healthz`)).status, 200);
  });

  test('GIVEN more concurrent uploads than allowed THEN BUSY (503) for the extra one', async () => {
    const running = await start(createHttpServer({ service: stack.service, maxConcurrentUploads: 1 }));
    try {
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let step = 0;
      const slow = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (step === 0) controller.enqueue(new Uint8Array(photo.subarray(0, 1024)));
          else if (step === 1) {
            await gate;
            controller.enqueue(new Uint8Array(photo.subarray(1024)));
          } else controller.close();
          step++;
        },
      });
      const first = fetch(`${running.base}/api/similar`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: slow,
        duplex: 'half',
      } as RequestInit);
      // The first upload holds the only slot once its headers reach the server; until then a
      // second upload may still get through, so try until one is refused.
      let second: Response | undefined;
      for (let attempt = 0; attempt < 100; attempt++) {
        second = await fetch(`${running.base}/api/similar`, {
          method: 'POST',
          body: upload(photo, 'b.jpg', 'image/jpeg'),
        });
        if (second.status !== 200) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(second !== undefined);
      assert.equal(second.status, 503);
      assert.equal(((await second.json()) as ErrorBody).error.code, 'BUSY');
      assert.equal(second.headers.get('retry-after'), '5');
      release();
      assert.equal((await first).status, 200);
    } finally {
      await running.http.close();
    }
  });

  test('GIVEN garbage on the socket THEN 400 and the server stays up', async () => {
    const url = new URL(page.base);
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(url.port), url.hostname, () => s.write('GARBAGE \u0000\u0001 / HTTP/9\r\n\r\n'));
      let data = '';
      s.on('data', (c) => {
        data += c.toString();
      });
      s.on('end', () => resolve(data));
      s.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    assert.equal((await fetch(`${page.base}/healthz`)).status, 200);
  });

  test('GIVEN /healthz, /api/status and /api/facets THEN they describe the service', async () => {
    const health = (await (await fetch(`${page.base}/healthz`)).json()) as { ok: boolean; catalogSize: number };
    assert.deepEqual(health, { ok: true, catalogSize: 16 });
    const status = (await (await fetch(`${page.base}/api/status`)).json()) as {
      catalogSize: number;
      weights: { untrained: boolean; description: string };
      reindexing: boolean;
      queueDepth: number;
    };
    assert.equal(status.catalogSize, 16);
    assert.equal(status.weights.untrained, true);
    assert.equal(status.reindexing, false);
    assert.equal(status.queueDepth, 0);
    const facets = (await (await fetch(`${page.base}/api/facets`)).json()) as {
      genders: string[];
      articleTypes: string[];
    };
    assert.ok(facets.articleTypes.length > 0 && facets.genders.length > 0);
  });

  test('GIVEN the page route THEN HTML with a strict CSP and no external assets', async () => {
    const res = await fetch(`${page.base}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await res.text();
    assert.match(html, /type="file"/);
    assert.match(html, /up to 2 MB/, 'the page quotes the configured upload limit');
    assert.ok(!/(src|href)="https?:/.test(html), 'no external assets');
    assert.equal((await fetch(`${page.base}/nope`)).status, 404);
    assert.equal((await fetch(`${page.base}/api/similar`)).status, 405);
  });

  test('GIVEN the default limits THEN the sixth page upload in a minute is answered, while a chat user is held to 5', async () => {
    const defaults = stack.serviceWith(serviceSettingsFrom(parseConfig({})));
    const running = await start(createHttpServer({ service: defaults }));
    try {
      for (let i = 1; i <= 7; i++) {
        const res = await fetch(`${running.base}/api/similar`, {
          method: 'POST',
          body: upload(photo, `p${i}.jpg`, 'image/jpeg'),
        });
        assert.equal(res.status, 200, `page upload ${i}`);
      }
      // The chat users' budget is its own: the page's uploads took none of it.
      for (let i = 1; i <= 5; i++) {
        await defaults.findSimilar(photo, { userId: 'discord:u1', surface: 'discord' });
      }
      await assert.rejects(defaults.findSimilar(photo, { userId: 'discord:u1', surface: 'discord' }), {
        code: 'RATE_LIMITED',
      });
      const page = await fetch(`${running.base}/api/similar`, {
        method: 'POST',
        body: upload(photo, 'p8.jpg', 'image/jpeg'),
      });
      assert.equal(page.status, 200, 'and the chat limit leaves the page alone');
    } finally {
      await running.http.close();
      await defaults.close();
    }
  });

  test('GIVEN a page client over LOOKALIKE_PAGE_RATE_PER_MINUTE THEN 429 with Retry-After', async () => {
    const limited = stack.serviceWith(serviceSettingsFrom(parseConfig({ LOOKALIKE_PAGE_RATE_PER_MINUTE: '1' })));
    const running = await start(createHttpServer({ service: limited }));
    try {
      const ok = await fetch(`${running.base}/api/similar`, {
        method: 'POST',
        body: upload(photo, 'a.jpg', 'image/jpeg'),
      });
      assert.equal(ok.status, 200);
      const res = await fetch(`${running.base}/api/similar`, {
        method: 'POST',
        body: upload(photo, 'a.jpg', 'image/jpeg'),
      });
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      const body = (await res.json()) as ErrorBody;
      assert.equal(body.error.message, USER_MESSAGES.RATE_LIMITED);
      const chat = await limited.findSimilar(photo, { userId: 'slack:U1', surface: 'slack' });
      assert.ok(chat.results.length > 0, 'chat users keep their own budget');
    } finally {
      await running.http.close();
      await limited.close();
    }
  });

  test('GIVEN LOCAL_PAGE off THEN only /healthz and mounted routes answer', async () => {
    const seen: string[] = [];
    const http = createHttpServer({
      service: stack.service,
      localPage: false,
      routes: [
        {
          method: 'POST',
          path: '/slack/events',
          handler: (req, res) => {
            seen.push(req.method ?? '');
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end('{"mounted":true}');
          },
        },
      ],
    });
    const running = await start(http);
    try {
      assert.equal((await fetch(`${running.base}/`)).status, 404);
      assert.equal((await fetch(`${running.base}/api/status`)).status, 404);
      const post = await fetch(`${running.base}/api/similar`, {
        method: 'POST',
        body: upload(photo, 'a.jpg', 'image/jpeg'),
      });
      assert.equal(post.status, 404);
      assert.equal((await fetch(`${running.base}/healthz`)).status, 200);
      const slack = await fetch(`${running.base}/slack/events`, { method: 'POST', body: '{}' });
      assert.deepEqual(await slack.json(), { mounted: true });
      http.addRoute({
        path: '/later',
        handler: (_req, res) => {
          res.end('late');
        },
      });
      assert.equal(await (await fetch(`${running.base}/later`)).text(), 'late');
      assert.deepEqual(seen, ['POST']);
    } finally {
      await running.http.close();
    }
  });
});
