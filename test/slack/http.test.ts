/**
 * Slack over HTTP, end to end: signed requests → the real Bolt receiver mounted on the one HTTP
 * server → the real core service → Web API calls recorded by a loopback fake Slack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { USER_MESSAGES } from '@lookalike/core';
import type { RecordedCall } from '../fakes/slack.js';
import { fileShareEvent, type SlackHarness, startSlackHarness } from './harness.js';

const CHANNEL = 'C0GENERAL';

let h: SlackHarness;

before(async () => {
  h = await startSlackHarness();
});

after(async () => {
  await h?.close();
});

/** Web API calls made after index `from`. */
function since(from: number, method?: string): RecordedCall[] {
  return h.fake.calls.slice(from).filter((c) => method === undefined || c.method === method);
}

/** Waits for the result list (a chat.postMessage with blocks) in a thread, after `from`. */
function waitForResultList(from: number, threadTs: string | undefined): Promise<RecordedCall> {
  return h.fake.waitFor((calls) =>
    calls
      .slice(from)
      .find((c) => c.method === 'chat.postMessage' && Array.isArray(c.args.blocks) && c.args.thread_ts === threadTs),
  );
}

function resultSections(call: RecordedCall): string[] {
  const blocks = call.args.blocks as { type: string; text?: { text: string } }[];
  return blocks
    .filter((b) => b.type === 'section' && /^\*\d+\. /.test(b.text?.text ?? ''))
    .map((b) => b.text?.text ?? '');
}

describe('image shares', () => {
  test('GIVEN a file_share event THEN the collage is uploaded in the thread (getUploadURLExternal → upload URL → completeUploadExternal) and 6 results are listed', async () => {
    const from = h.fake.calls.length;
    const file = h.fake.addFile({ name: 'look.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U1' });
    const ev = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U1', files: [file] });
    const res = await h.signer.postEvent(ev);
    assert.equal(res.status, 200);

    const list = await waitForResultList(from, ev.ts);
    const calls = since(from);
    const download = calls.findIndex((c) => c.method === 'download');
    const getUrl = calls.findIndex((c) => c.method === 'files.getUploadURLExternal');
    const upload = calls.findIndex((c) => c.method === 'upload');
    const complete = calls.findIndex((c) => c.method === 'files.completeUploadExternal');
    assert.ok(download >= 0, 'the file was downloaded');
    assert.equal(calls[download]?.headers.authorization, `Bearer ${h.fake.botToken}`);
    assert.ok(download < getUrl && getUrl < upload && upload < complete, calls.map((c) => c.method).join(','));

    const uploaded = calls[upload]?.parts.find((p) => p.name === 'body');
    assert.ok(uploaded !== undefined && uploaded.bytes.length > 1000);
    assert.deepEqual([...uploaded.bytes.subarray(0, 3)], [0xff, 0xd8, 0xff], 'the collage is a JPEG');
    const completeArgs = calls[complete]?.args ?? {};
    assert.equal(completeArgs.channel_id, CHANNEL);
    assert.equal(completeArgs.thread_ts, ev.ts);

    const sections = resultSections(list);
    assert.equal(sections.length, 6);
    sections.forEach((s, i) => {
      assert.match(s, new RegExp(`^\\*${i + 1}\\. `));
      assert.match(s, /similarity \d+(\.\d)?%/);
    });
    // Each listed item is a real catalog item: its name and article type come from the labels.
    const names = new Set(h.stack.items.map((i) => i.productDisplayName));
    for (const s of sections) {
      const name = /^\*\d+\. (.*)\*/.exec(s)?.[1]?.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
      assert.ok(name !== undefined && names.has(name), `unknown item ${s}`);
    }
    const context = JSON.stringify(list.args.blocks);
    assert.match(context, /untrained|not meaningful/i, 'the untrained notice is shown');
  });

  test('GIVEN the same share as file_share and app_mention THEN it is answered once', async () => {
    const from = h.fake.calls.length;
    const file = h.fake.addFile({ name: 'both.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U2' });
    const ts = h.fake.nextTs();
    const share = fileShareEvent(h.fake, {
      channel: CHANNEL,
      user: 'U2',
      files: [file],
      text: `<@${h.fake.botUserId}> what matches this?`,
      ts,
    });
    const mention = {
      type: 'app_mention',
      channel: CHANNEL,
      user: 'U2',
      text: `<@${h.fake.botUserId}> what matches this?`,
      ts,
      event_ts: ts,
      files: [file],
    };
    const [a, b] = await Promise.all([h.signer.postEvent(share), h.signer.postEvent(mention)]);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    await waitForResultList(from, ts);
    // A later, unrelated share is answered: when its answer is in, the duplicate had its chance.
    const later = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U2', files: [file] });
    await h.signer.postEvent(later);
    await waitForResultList(from, later.ts);
    const forShare = since(from).filter((c) => c.method === 'files.completeUploadExternal' && c.args.thread_ts === ts);
    assert.equal(forShare.length, 1);
    assert.equal(since(from, 'download').length, 2);
  });

  test('GIVEN one share with 5 images THEN the first 4 get one threaded answer each', async () => {
    const from = h.fake.calls.length;
    const files = [1, 2, 3, 4, 5].map((n) =>
      h.fake.addFile({ name: `look-${n}.jpg`, mimetype: 'image/jpeg', bytes: h.photo, user: 'U5' }),
    );
    const ev = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U5', files });
    assert.equal((await h.signer.postEvent(ev)).status, 200);
    await h.fake.waitFor(
      () =>
        since(from).filter(
          (c) => c.method === 'chat.postMessage' && Array.isArray(c.args.blocks) && c.args.thread_ts === ev.ts,
        ).length >= 4
          ? true
          : undefined,
      120_000, // four full answers in a row
    );
    const lists = since(from).filter(
      (c) => c.method === 'chat.postMessage' && Array.isArray(c.args.blocks) && c.args.thread_ts === ev.ts,
    );
    assert.equal(lists.length, 4);
    for (const list of lists) assert.equal(resultSections(list).length, 6);
    assert.equal(since(from, 'download').length, 4, 'the fifth image is not downloaded');
    assert.equal(since(from, 'files.completeUploadExternal').filter((c) => c.args.thread_ts === ev.ts).length, 4);
  });

  test('GIVEN a partial file object (check_file_info) THEN files.info is called and the share is answered', async () => {
    const from = h.fake.calls.length;
    const file = h.fake.addFile({ name: 'partial.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U3' });
    const ev = fileShareEvent(h.fake, {
      channel: CHANNEL,
      user: 'U3',
      files: [{ id: file.id, file_access: 'check_file_info' }],
    });
    await h.signer.postEvent(ev);
    await waitForResultList(from, ev.ts);
    const info = since(from, 'files.info');
    assert.equal(info.length, 1);
    assert.equal(info[0]?.args.file, file.id);
  });

  test('GIVEN a message of another subtype or a non-image file THEN nothing is posted', async () => {
    const from = h.fake.calls.length;
    const pdf = h.fake.addFile({
      name: 'doc.pdf',
      mimetype: 'application/pdf',
      bytes: Buffer.from('%PDF-1.4'),
      user: 'U4',
    });
    const pdfShare = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U4', files: [pdf] });
    const image = h.fake.addFile({ name: 'x.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U4' });
    const changed = {
      ...fileShareEvent(h.fake, { channel: CHANNEL, user: 'U4', files: [image] }),
      subtype: 'message_changed',
    };
    const plain = { type: 'message', channel: CHANNEL, user: 'U4', text: 'hello', ts: h.fake.nextTs() };
    const own = fileShareEvent(h.fake, { channel: CHANNEL, user: h.fake.botUserId, files: [image] });
    for (const e of [pdfShare, changed, plain, own]) assert.equal((await h.signer.postEvent(e)).status, 200);
    // A marker share after them: once it is answered, the earlier events were processed.
    const marker = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U4', files: [image] });
    await h.signer.postEvent(marker);
    await waitForResultList(from, marker.ts);
    const posted = since(from).filter(
      (c) => c.method.startsWith('chat.') || c.method === 'files.completeUploadExternal',
    );
    assert.ok(
      posted.every((c) => c.args.thread_ts === marker.ts),
      JSON.stringify(posted.map((c) => c.args.thread_ts)),
    );
    assert.equal(since(from, 'download').length, 1);
  });

  test('GIVEN an app_mention without an image THEN the NO_IMAGE sentence is posted in the thread', async () => {
    const from = h.fake.calls.length;
    const ts = h.fake.nextTs();
    await h.signer.postEvent({
      type: 'app_mention',
      channel: CHANNEL,
      user: 'U5',
      text: `<@${h.fake.botUserId}> hi`,
      ts,
      event_ts: ts,
    });
    const reply = await h.fake.waitFor((calls) =>
      calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts),
    );
    assert.equal(reply.args.text, USER_MESSAGES.NO_IMAGE);
  });
  test('GIVEN a PDF shared with a mention of the bot THEN only the mention is answered, with NO_IMAGE', async () => {
    const from = h.fake.calls.length;
    const pdf = h.fake.addFile({
      name: 'spec.pdf',
      mimetype: 'application/pdf',
      bytes: Buffer.from('%PDF-1.4'),
      user: 'U5',
    });
    const ts = h.fake.nextTs();
    const text = `<@${h.fake.botUserId}> and this?`;
    await h.signer.postEvent(fileShareEvent(h.fake, { channel: CHANNEL, user: 'U5', files: [pdf], text, ts }));
    await h.signer.postEvent({
      type: 'app_mention',
      channel: CHANNEL,
      user: 'U5',
      text,
      ts,
      event_ts: ts,
      files: [pdf],
    });
    const reply = await h.fake.waitFor((calls) =>
      calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts),
    );
    assert.equal(reply.args.text, USER_MESSAGES.NO_IMAGE);
    assert.equal(since(from, 'download').length, 0);
  });
});

describe('downloads refused by Slack', () => {
  test('GIVEN the file server answers with its HTML login page THEN the friendly error mentions files:read', async () => {
    h.fake.filesReadScope = false;
    try {
      const from = h.fake.calls.length;
      const file = h.fake.addFile({ name: 'locked.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U6' });
      const ev = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U6', files: [file] });
      await h.signer.postEvent(ev);
      const reply = await h.fake.waitFor((calls) =>
        calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ev.ts),
      );
      const text = String(reply.args.text);
      assert.ok(text.startsWith(USER_MESSAGES.FETCH_NOT_IMAGE), text);
      assert.match(text, /files:read/);
      assert.equal(since(from, 'files.getUploadURLExternal').length, 0);
    } finally {
      h.fake.filesReadScope = true;
    }
  });

  test('GIVEN a download without the bot token THEN the fake serves the login page (200 text/html), as Slack does', async () => {
    const file = h.fake.addFile({ name: 'n.jpg', mimetype: 'image/jpeg', bytes: h.photo });
    const anon = await fetch(file.url_private_download);
    assert.equal(anon.status, 200);
    assert.match(String(anon.headers.get('content-type')), /text\/html/);
    await anon.arrayBuffer();
    const err = await h.stack.service
      .fetchImage(file.url_private_download, { notImageHint: 'Check that the app has the files:read scope.' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.equal((err as { code?: string }).code, 'FETCH_NOT_IMAGE');
    assert.match((err as { userMessage: string }).userMessage, /files:read/);
  });
});

describe('/similar', () => {
  test('GIVEN the user shared a photo in the channel THEN /similar posts the answer to the channel', async () => {
    const channel = 'C0SIMILAR';
    const file = h.fake.addFile({ name: 'mine.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U7' });
    const other = h.fake.addFile({ name: 'theirs.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U8' });
    h.fake.addHistory(channel, { user: 'U7', files: [file] });
    h.fake.addHistory(channel, { user: 'U7', text: 'no image here' });
    h.fake.addHistory(channel, { user: 'U8', files: [other] });
    const from = h.fake.calls.length;
    const res = await h.signer.postCommand(h.signer.commandBody('/similar', { user: 'U7', channel, text: '' }));
    assert.equal(res.status, 200);
    const list = await waitForResultList(from, undefined);
    assert.equal(list.args.channel, channel);
    assert.equal(resultSections(list).length, 6);
    const history = since(from, 'conversations.history');
    assert.equal(history[0]?.args.channel, channel);
    const oldest = Number(history[0]?.args.oldest);
    assert.ok(Math.abs(Date.now() / 1000 - 24 * 3600 - oldest) < 120, 'looks back 24 h');
    const downloads = since(from, 'download');
    assert.equal(downloads.length, 1);
    assert.ok(downloads[0]?.path.includes(file.id), 'the invoking user’s own photo was used');
    assert.equal(since(from, 'files.completeUploadExternal')[0]?.args.channel_id, channel);
  });

  test('GIVEN "/similar <gender> <category>" THEN every listed result is of that category', async () => {
    const channel = 'C0FILTER';
    const file = h.fake.addFile({ name: 'f.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U9' });
    h.fake.addHistory(channel, { user: 'U9', files: [file] });
    // The most common (gender, articleType) pair of the generated catalog.
    const groups = new Map<string, (typeof h.stack.items)[number][]>();
    for (const i of h.stack.items)
      groups.set(`${i.gender}|${i.articleType}`, [...(groups.get(`${i.gender}|${i.articleType}`) ?? []), i]);
    const target = [...groups.values()].sort((a, b) => b.length - a.length)[0]![0]!;
    const from = h.fake.calls.length;
    await h.signer.postCommand(
      h.signer.commandBody('/similar', {
        user: 'U9',
        channel,
        text: `gender=${target.gender.toLowerCase()} ${target.articleType.toLowerCase()}`,
      }),
    );
    const list = await waitForResultList(from, undefined);
    const sections = resultSections(list);
    assert.ok(sections.length >= 1 && sections.length <= 6, String(sections.length));
    for (const s of sections) assert.ok(s.includes(target.articleType), s);
  });

  test('GIVEN no recent photo by the user THEN /similar answers ephemerally', async () => {
    const channel = 'C0EMPTY';
    h.fake.addHistory(channel, { user: 'U10', text: 'just text' });
    const from = h.fake.calls.length;
    const body = h.signer.commandBody('/similar', { user: 'U10', channel });
    const res = await h.signer.postCommand(body);
    assert.equal(res.status, 200);
    const reply = await h.fake.waitFor((calls) => calls.slice(from).find((c) => c.method === 'response_url'));
    assert.equal(reply.path, new URL(body.response_url ?? '').pathname);
    assert.equal(reply.args.response_type, 'ephemeral');
    assert.match(String(reply.args.text), /last 24 hours/);
    assert.equal(since(from, 'chat.postMessage').length, 0);
  });
});

describe('"Find similar" message shortcut', () => {
  test('GIVEN a message with an image THEN the answer goes in its thread', async () => {
    const channel = 'C0SHORT';
    const file = h.fake.addFile({ name: 's.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U11' });
    const ts = h.fake.addHistory(channel, { user: 'U11', files: [file] });
    const from = h.fake.calls.length;
    const res = await h.signer.postShortcut(
      h.signer.shortcutPayload({
        user: 'U12',
        channel,
        message: { type: 'message', user: 'U11', ts, text: '', files: [file] },
      }),
    );
    assert.equal(res.status, 200);
    const list = await waitForResultList(from, ts);
    assert.equal(list.args.channel, channel);
    assert.equal(resultSections(list).length, 6);
    assert.equal(since(from, 'files.completeUploadExternal')[0]?.args.thread_ts, ts);
  });

  test('GIVEN a message without an image THEN the shortcut answers ephemerally', async () => {
    const from = h.fake.calls.length;
    await h.signer.postShortcut(
      h.signer.shortcutPayload({
        user: 'U12',
        channel: 'C0SHORT',
        message: { type: 'message', user: 'U11', ts: h.fake.nextTs(), text: 'words' },
      }),
    );
    const reply = await h.fake.waitFor((calls) => calls.slice(from).find((c) => c.method === 'response_url'));
    assert.equal(reply.args.response_type, 'ephemeral');
    assert.match(String(reply.args.text), /no image/);
  });
});

describe('request signing', () => {
  const cases: [string, Parameters<SlackHarness['signer']['postEvent']>[1]][] = [
    ['a bad signature (wrong secret)', { secret: 'not-the-secret' }],
    ['a missing signature', { unsigned: true }],
    ['a timestamp older than 5 minutes', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }],
    ['a body changed after signing', { tamper: true }],
  ];
  for (const [name, opts] of cases) {
    test(`GIVEN ${name} THEN 401 and no Web API call`, async () => {
      const from = h.fake.calls.length;
      const file = h.fake.addFile({ name: 'sig.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U13' });
      const ev = fileShareEvent(h.fake, { channel: CHANNEL, user: 'U13', files: [file] });
      const res = await h.signer.postEvent(ev, opts);
      assert.equal(res.status, 401);
      assert.equal(await res.text(), '');
      const cmd = await h.signer.postCommand(h.signer.commandBody('/similar', { user: 'U13', channel: CHANNEL }), opts);
      assert.equal(cmd.status, 401);
      await cmd.arrayBuffer();
      // The receiver answers only after verification, so a rejected request is finished here.
      assert.deepEqual(
        since(from).map((c) => c.method),
        [],
      );
    });
  }

  test('GIVEN a signed url_verification THEN the challenge is echoed', async () => {
    const body = JSON.stringify({ type: 'url_verification', token: 't', challenge: 'chal-123' });
    const res = await h.signer.post(body, 'application/json');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { challenge: 'chal-123' });
  });
});
