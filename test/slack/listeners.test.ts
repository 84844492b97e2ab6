/**
 * Unit tests of every Slack listener with a fake SimilarityService and a fake Web API: no Bolt,
 * no HTTP, no model.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMemoryClaims, LookalikeError, USER_MESSAGES } from '@lookalike/core';
import {
  CONFIRM_NEEDS_CHANNEL,
  FILES_READ_HINT,
  type HistoryMessage,
  NO_IMAGE_IN_MESSAGE,
  noRecentImageText,
  onAppMention,
  onFileShare,
  onFindSimilarShortcut,
  onReindexButton,
  onReindexCommand,
  onSimilarCommand,
  parseReindexButtonValue,
  REINDEX_ACTIONS,
  REINDEX_NOT_YOURS_TEXT,
  reindexButtonValue,
  renderMassRemoval,
  renderProgress,
  renderSummary,
  runningText,
  type SlackApi,
  type SlackDeps,
  type SlackFile,
} from '@lookalike/slack';
import {
  type FakeService,
  fakeService,
  manualClock,
  massRemovalRefusal,
  NOTICES_WHILE_INDEXING,
  progress,
  type RecordingLogger,
  recordingLogger,
  SUMMARY,
  serviceError,
  settle,
} from '../chat/fakes.js';

const TOKEN = 'xoxb-test-token';
const BOT = 'UBOT';
const CONTEXT = { teamId: 'T1', botUserId: BOT };
const DAY = 24 * 3600_000;

type ApiCall = { method: string; args: Record<string, unknown> };

/** A fake Web API that records every call. */
function fakeApi(
  over: {
    files?: Record<string, SlackFile>;
    history?: HistoryMessage[][];
    admins?: string[];
    fail?: Partial<Record<string, unknown>>;
  } = {},
) {
  const calls: ApiCall[] = [];
  let ts = 1000;
  const record = (method: string, args: Record<string, unknown>) => {
    calls.push({ method, args });
    if (over.fail?.[method] !== undefined) throw over.fail[method];
  };
  const api: SlackApi = {
    async postMessage(m) {
      record('chat.postMessage', m);
      ts += 1;
      return { ts: `${ts}.000` };
    },
    async updateMessage(m) {
      record('chat.update', m);
    },
    async uploadFile(f) {
      record('files.uploadV2', f);
    },
    async fileInfo(id) {
      record('files.info', { id });
      return over.files?.[id];
    },
    async history(q) {
      record('conversations.history', q);
      const page = q.cursor === undefined ? 0 : Number(q.cursor);
      const pages = over.history ?? [[]];
      return { messages: pages[page] ?? [], nextCursor: page + 1 < pages.length ? String(page + 1) : undefined };
    },
    async isWorkspaceAdmin(user) {
      record('users.info', { user });
      return (over.admins ?? []).includes(user);
    },
    downloadHeaders: () => ({ Authorization: `Bearer ${TOKEN}` }),
  };
  return { api, calls };
}

interface Built {
  deps: SlackDeps;
  service: FakeService;
  calls: ApiCall[];
  log: RecordingLogger;
}

function build(service: FakeService = fakeService(), api = fakeApi(), over: Partial<SlackDeps> = {}): Built {
  const log = recordingLogger();
  const deps: SlackDeps = {
    service,
    log,
    settings: { progressIntervalMs: 0, historyWindowMs: DAY, adminUserIds: ['UADMIN'] },
    state: { runningReindex: undefined },
    claims: createMemoryClaims(),
    api: api.api,
    stopping: () => false,
    ...over,
  };
  return { deps, service, calls: api.calls, log };
}

let fileN = 0;
const photo = (over: Partial<SlackFile> = {}): SlackFile => {
  fileN += 1;
  return {
    id: `F${fileN}`,
    name: `p${fileN}.jpg`,
    mimetype: 'image/jpeg',
    url_private: `https://files.slack.com/files-pri/T1-F${fileN}/p.jpg`,
    url_private_download: `https://files.slack.com/files-pri/T1-F${fileN}/download/p.jpg`,
    ...over,
  };
};
const pdf = (): SlackFile => ({
  id: 'FPDF',
  name: 'a.pdf',
  mimetype: 'application/pdf',
  url_private: 'https://files/a.pdf',
});

let tsN = 0;
function share(files: SlackFile[], over: Record<string, unknown> = {}) {
  tsN += 1;
  return { subtype: 'file_share', channel: 'C1', user: 'U1', ts: `${tsN}.0001`, files, ...over };
}

/** The URL the n-th search was asked to download. */
function searchedUrl(service: FakeService, n: number): string | undefined {
  const image = service.calls[n]?.image;
  return image === undefined || image instanceof Uint8Array ? undefined : image.url;
}

const methods = (calls: ApiCall[]) => calls.map((c) => c.method);
const posts = (calls: ApiCall[]) => calls.filter((c) => c.method === 'chat.postMessage');

describe('onFileShare (message events)', () => {
  test('GIVEN a shared photo THEN the service gets its private URL with the bot token, and the collage and list go in the thread', async () => {
    const { deps, service, calls } = build();
    const file = photo();
    const ev = share([file]);
    await onFileShare({ event: ev, context: CONTEXT }, deps);
    assert.deepEqual(service.calls[0]?.image, {
      url: file.url_private_download,
      headers: { Authorization: `Bearer ${TOKEN}` },
      notImageHint: FILES_READ_HINT,
    });
    const o = service.calls[0]!.options;
    assert.equal(o.surface, 'slack');
    assert.equal(o.userId, 'slack:T1:U1');
    assert.ok(!('k' in o), 'no k: the service applies its configured default');
    assert.deepEqual(methods(calls), ['files.uploadV2', 'chat.postMessage']);
    assert.equal(calls[0]?.args.channel, 'C1');
    assert.equal(calls[0]?.args.threadTs, ev.ts);
    assert.deepEqual([...(calls[0]!.args.bytes as Buffer).subarray(0, 3)], [0xff, 0xd8, 0xff], 'the collage');
    assert.equal(calls[1]?.args.threadTs, ev.ts);
    const blocks = JSON.stringify(calls[1]?.args.blocks);
    for (const n of NOTICES_WHILE_INDEXING) assert.ok(blocks.includes(n.text), `the list shows ${n.code}`);
    assert.match(String(calls[1]?.args.text), /Catalog still indexing/);
  });

  test('GIVEN a share in a thread THEN the answer goes in that thread', async () => {
    const { deps, calls } = build();
    await onFileShare({ event: share([photo()], { thread_ts: '77.0001' }), context: CONTEXT }, deps);
    assert.equal(calls[0]?.args.threadTs, '77.0001');
  });

  test('GIVEN another subtype, the bot’s own share, a bot message or a PDF THEN nothing happens', async () => {
    const { deps, service, calls } = build();
    for (const ev of [
      share([photo()], { subtype: 'message_changed' }),
      share([photo()], { subtype: undefined }),
      share([photo()], { user: BOT }),
      share([photo()], { bot_id: 'B1' }),
      share([pdf()]),
    ]) {
      await onFileShare({ event: ev, context: CONTEXT }, deps);
    }
    assert.equal(service.calls.length, 0);
    assert.deepEqual(calls, []);
  });

  test('GIVEN five photos THEN the first four get an answer each, in order', async () => {
    const { deps, service, calls } = build();
    const files = [1, 2, 3, 4, 5].map(() => photo());
    await onFileShare({ event: share(files), context: CONTEXT }, deps);
    assert.deepEqual(
      service.calls.map((_c, n) => searchedUrl(service, n)),
      files.slice(0, 4).map((f) => f.url_private_download),
    );
    assert.equal(calls.filter((c) => c.method === 'files.uploadV2').length, 4);
    assert.equal(new Set(service.calls.map((c) => c.options.requestId)).size, 4);
  });

  for (const code of ['RATE_LIMITED', 'BUSY'] as const) {
    test(`GIVEN ${code} on the first photo THEN its sentence is posted in the thread and the rest are not searched`, async () => {
      const { deps, service, calls, log } = build(fakeService({ answer: () => serviceError(code) }));
      const ev = share([photo(), photo(), photo()]);
      await onFileShare({ event: ev, context: CONTEXT }, deps);
      assert.equal(service.calls.length, 1);
      assert.deepEqual(methods(calls), ['chat.postMessage']);
      assert.deepEqual(calls[0]?.args, { channel: 'C1', threadTs: ev.ts, text: USER_MESSAGES[code] });
      assert.equal(log.entries.find((e) => e.msg === 'image answer failed')?.level, 'info');
    });
  }

  test('GIVEN Slack serves its login page for the first photo THEN the files:read hint is posted and the second photo is answered', async () => {
    const notImage = new LookalikeError('FETCH_NOT_IMAGE', 'html', {
      userMessage: `${USER_MESSAGES.FETCH_NOT_IMAGE} ${FILES_READ_HINT}`,
    });
    const { deps, service, calls } = build(fakeService({ answer: (_c, n) => (n === 0 ? notImage : undefined) }));
    await onFileShare({ event: share([photo(), photo()]), context: CONTEXT }, deps);
    assert.equal(service.calls.length, 2);
    assert.match(String(posts(calls)[0]?.args.text), /files:read/);
    assert.ok(Array.isArray(posts(calls)[1]?.args.blocks), 'the second photo got its result list');
  });

  test('GIVEN a partial file object THEN files.info completes it before the search', async () => {
    const full = photo();
    const { deps, service, calls } = build(fakeService(), fakeApi({ files: { [full.id!]: full } }));
    await onFileShare({ event: share([{ id: full.id!, file_access: 'check_file_info' }]), context: CONTEXT }, deps);
    assert.deepEqual(calls[0], { method: 'files.info', args: { id: full.id } });
    assert.equal(searchedUrl(service, 0), full.url_private_download);
  });

  test('GIVEN the bot is not in the channel THEN the invite hint is what the person is told', async () => {
    const notInChannel = Object.assign(new Error('An API error occurred: not_in_channel'), {
      data: { error: 'not_in_channel' },
    });
    const { deps, calls } = build(fakeService(), fakeApi({ fail: { 'files.uploadV2': notInChannel } }));
    await onFileShare({ event: share([photo()]), context: CONTEXT }, deps);
    assert.match(String(posts(calls)[0]?.args.text), /Invite me first/);
  });

  test('GIVEN the bot is stopping THEN nothing is searched', async () => {
    const { deps, service } = build(fakeService(), fakeApi(), { stopping: () => true });
    await onFileShare({ event: share([photo()]), context: CONTEXT }, deps);
    assert.equal(service.calls.length, 0);
  });
});

describe('onAppMention and de-duplication', () => {
  test('GIVEN the same share as file_share and app_mention THEN it is searched and answered once', async () => {
    const { deps, service, calls } = build();
    const ev = share([photo()]);
    const mention = { channel: ev.channel, user: ev.user, ts: ev.ts, files: ev.files };
    await Promise.all([
      onFileShare({ event: ev, context: CONTEXT }, deps),
      onAppMention({ event: mention, context: CONTEXT }, deps),
    ]);
    await onAppMention({ event: mention, context: CONTEXT }, deps); // a retry
    assert.equal(service.calls.length, 1);
    assert.equal(calls.filter((c) => c.method === 'files.uploadV2').length, 1);
  });

  test('GIVEN a share whose answer failed before reaching the person THEN its claim is freed and the retry is answered', async () => {
    const full = photo();
    let infoCalls = 0;
    const api = fakeApi({ files: { [full.id!]: full } });
    const flaky: SlackApi = {
      ...api.api,
      async fileInfo(id) {
        infoCalls += 1;
        if (infoCalls === 1) throw new Error('ECONNRESET');
        return api.api.fileInfo(id);
      },
    };
    const { deps, service } = build(fakeService(), { api: flaky, calls: api.calls });
    const ev = share([{ id: full.id!, file_access: 'check_file_info' }]);
    await onFileShare({ event: ev, context: CONTEXT }, deps);
    assert.equal(service.calls.length, 0);
    await onFileShare({ event: ev, context: CONTEXT }, deps); // Slack's retry
    assert.equal(service.calls.length, 1);
    await onFileShare({ event: ev, context: CONTEXT }, deps); // answered: the next retry is not
    assert.equal(service.calls.length, 1);
  });

  test('GIVEN the claims say another replica has the share THEN nothing is searched or posted', async () => {
    const claimed: string[] = [];
    const { deps, service, calls } = build(fakeService(), fakeApi(), {
      claims: {
        claim: async (key) => {
          claimed.push(key);
          return false;
        },
        done: async () => assert.fail('not claimed here'),
        failed: async () => assert.fail('not claimed here'),
      },
    });
    const ev = share([photo()]);
    await onFileShare({ event: ev, context: CONTEXT }, deps);
    assert.deepEqual(claimed, [`slack:${ev.channel}:${ev.ts}`]);
    assert.equal(service.calls.length, 0);
    assert.deepEqual(calls, []);
  });

  test('GIVEN a mention without an image THEN NO_IMAGE in the thread', async () => {
    const { deps, service, calls } = build();
    await onAppMention({ event: { channel: 'C1', user: 'U1', ts: '5.0001' }, context: CONTEXT }, deps);
    assert.equal(service.calls.length, 0);
    assert.deepEqual(calls, [
      { method: 'chat.postMessage', args: { channel: 'C1', threadTs: '5.0001', text: USER_MESSAGES.NO_IMAGE } },
    ]);
  });

  test('GIVEN a PDF shared with a mention THEN the share is ignored and the mention gets NO_IMAGE', async () => {
    const { deps, calls } = build();
    const ev = share([pdf()]);
    await onFileShare({ event: ev, context: CONTEXT }, deps);
    await onAppMention(
      { event: { channel: ev.channel, user: ev.user, ts: ev.ts, files: ev.files }, context: CONTEXT },
      deps,
    );
    assert.deepEqual(
      posts(calls).map((c) => c.args.text),
      [USER_MESSAGES.NO_IMAGE],
    );
  });

  test('GIVEN a mention by the bot itself or a bot THEN nothing happens', async () => {
    const { deps, calls } = build();
    await onAppMention({ event: { channel: 'C1', user: BOT, ts: '6.0001' }, context: CONTEXT }, deps);
    await onAppMention({ event: { channel: 'C1', user: 'U1', bot_id: 'B1', ts: '6.0002' }, context: CONTEXT }, deps);
    await onAppMention({ event: { channel: 'C1', ts: '6.0003' }, context: CONTEXT }, deps);
    assert.deepEqual(calls, []);
  });
});

describe('onSimilarCommand (/similar)', () => {
  const command = (text = '', user = 'U7') => ({ text, channel_id: 'C9', user_id: user, team_id: 'T1' });

  test('GIVEN the user shared a photo in the window THEN it is searched with the filters and the answer goes to the channel', async () => {
    const mine = photo();
    const api = fakeApi({
      history: [
        [
          { user: 'U7', ts: '3', bot_id: 'B1', files: [photo()] },
          { user: 'U8', ts: '2', files: [photo()] },
          { user: 'U7', ts: '1.5', files: [pdf()] },
        ],
        [{ user: 'U7', ts: '1', files: [mine] }],
      ],
    });
    const clock = manualClock(10 * DAY);
    const { deps, service, calls } = build(fakeService(), api, { clock });
    const replies: string[] = [];
    await onSimilarCommand({ command: command('women shirts'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, []);
    const history = calls.filter((c) => c.method === 'conversations.history');
    assert.equal(history.length, 2, 'the second page is read');
    assert.equal(history[0]?.args.oldest, String((10 * DAY - DAY) / 1000));
    assert.equal(searchedUrl(service, 0), mine.url_private_download);
    assert.deepEqual(service.calls[0]?.options.filters, { gender: 'Women', articleType: 'Shirts' });
    const list = posts(calls)[0]!;
    assert.equal(list.args.channel, 'C9');
    assert.equal(list.args.threadTs, undefined);
    assert.match(String(list.args.text), /<@U7>'s latest photo \(gender Women · articleType Shirts\)/);
  });

  test('GIVEN no recent photo THEN an ephemeral answer naming the window', async () => {
    const { deps, service } = build();
    const replies: string[] = [];
    await onSimilarCommand({ command: command(), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, [noRecentImageText(DAY)]);
    assert.match(replies[0]!, /last 24 hours/);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN unknown words THEN they are named with the usage, and nothing is searched', async () => {
    const { deps, calls } = build();
    const replies: string[] = [];
    await onSimilarCommand({ command: command('women spacesuits'), respond: async (t) => void replies.push(t) }, deps);
    assert.match(replies[0]!, /I don't know “spacesuits”/);
    assert.match(replies[0]!, /Usage: \/similar/);
    assert.deepEqual(calls, []);
  });

  test('GIVEN the service refuses THEN the sentence is the ephemeral answer', async () => {
    const api = fakeApi({ history: [[{ user: 'U7', ts: '1', files: [photo()] }]] });
    const { deps } = build(fakeService({ answer: () => serviceError('INDEX_BUILDING') }), api);
    const replies: string[] = [];
    await onSimilarCommand({ command: command(), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, [USER_MESSAGES.INDEX_BUILDING]);
  });

  test('GIVEN the bot cannot read the channel THEN the invite hint is the ephemeral answer', async () => {
    const err = Object.assign(new Error('channel_not_found'), { data: { error: 'channel_not_found' } });
    const { deps } = build(fakeService(), fakeApi({ fail: { 'conversations.history': err } }));
    const replies: string[] = [];
    await onSimilarCommand({ command: command(), respond: async (t) => void replies.push(t) }, deps);
    assert.match(replies[0]!, /Invite me first/);
  });
});

describe('onFindSimilarShortcut ("Find similar")', () => {
  const shortcut = (message: { ts: string; thread_ts?: string; files?: SlackFile[] }) => ({
    user: { id: 'U12', team_id: 'T9' },
    team: { id: 'T1' },
    channel: { id: 'C5' },
    message,
  });

  test('GIVEN a message with a photo THEN it is answered in the message’s thread', async () => {
    const { deps, service, calls } = build();
    const file = photo();
    await onFindSimilarShortcut(
      { shortcut: shortcut({ ts: '9.0001', files: [pdf(), file] }), respond: async () => {} },
      deps,
    );
    assert.equal(searchedUrl(service, 0), file.url_private_download);
    assert.equal(service.calls[0]?.options.userId, 'slack:T1:U12');
    assert.deepEqual(
      calls.map((c) => [c.method, c.args.channel, c.args.threadTs]),
      [
        ['files.uploadV2', 'C5', '9.0001'],
        ['chat.postMessage', 'C5', '9.0001'],
      ],
    );
    assert.match(String(posts(calls)[0]?.args.text), /as asked by <@U12>/);
  });

  test('GIVEN a message without an image THEN an ephemeral note', async () => {
    const { deps, service } = build();
    const replies: string[] = [];
    await onFindSimilarShortcut(
      { shortcut: shortcut({ ts: '9.0002' }), respond: async (t) => void replies.push(t) },
      deps,
    );
    assert.deepEqual(replies, [NO_IMAGE_IN_MESSAGE]);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN the service is over the rate limit THEN the sentence is the ephemeral answer', async () => {
    const { deps, calls } = build(fakeService({ answer: () => serviceError('RATE_LIMITED') }));
    const replies: string[] = [];
    await onFindSimilarShortcut(
      { shortcut: shortcut({ ts: '9.0003', files: [photo()] }), respond: async (t) => void replies.push(t) },
      deps,
    );
    assert.deepEqual(replies, [USER_MESSAGES.RATE_LIMITED]);
    assert.deepEqual(calls, []);
  });
});

describe('onReindexCommand (/reindex)', () => {
  const command = (user: string) => ({ channel_id: 'CADMIN', user_id: user, team_id: 'T1', text: '' });

  test('GIVEN a user who is neither listed nor a workspace admin THEN FORBIDDEN ephemerally, and no reindex', async () => {
    const { deps, service, calls } = build();
    const replies: string[] = [];
    await onReindexCommand({ command: command('UPLEB'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, [USER_MESSAGES.FORBIDDEN]);
    assert.deepEqual(methods(calls), ['users.info']);
    assert.equal(service.reindexCalls, 0);
  });

  test('GIVEN users.info fails THEN the user counts as no admin (logged at warn)', async () => {
    const { deps, service, log } = build(fakeService(), fakeApi({ fail: { 'users.info': new Error('ratelimited') } }));
    const replies: string[] = [];
    await onReindexCommand({ command: command('UOWNER'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, [USER_MESSAGES.FORBIDDEN]);
    assert.equal(service.reindexCalls, 0);
    assert.ok(log.entries.some((e) => e.level === 'warn' && /users\.info failed/.test(e.msg ?? '')));
  });

  test('GIVEN a workspace owner THEN the reindex runs: a posted message, throttled updates, the summary last', async () => {
    const clock = manualClock(1000);
    let deps!: SlackDeps;
    let calls!: ApiCall[];
    const updates = () => calls.filter((c) => c.method === 'chat.update').map((c) => c.args.text);
    const service = fakeService({
      reindex: async (onProgress) => {
        assert.equal(deps.state.runningReindex, undefined, 'not pointed at before the run has started');
        onProgress(progress(10)); // the posted message counts as a write: this waits
        assert.deepEqual(deps.state.runningReindex, { channel: 'CADMIN', ts: '1001.000' });
        await settle();
        assert.deepEqual(updates(), []);
        clock.advance(300);
        onProgress(progress(20)); // replaces 10%
        clock.advance(100);
        await settle();
        assert.deepEqual(updates(), [renderProgress(progress(20), 'UOWNER')]);
        onProgress(progress(30));
        clock.advance(399);
        await settle();
        assert.equal(updates().length, 1, 'not before the interval has passed');
        clock.advance(1);
        await settle();
        assert.equal(updates().length, 2);
        return SUMMARY;
      },
    });
    ({ deps, calls } = build(service, fakeApi({ admins: ['UOWNER'] }), { clock }));
    deps.settings = { ...deps.settings, progressIntervalMs: 400 };
    const replies: string[] = [];
    await onReindexCommand({ command: command('UOWNER'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, []);
    const posted = posts(calls)[0]!;
    assert.equal(posted.args.channel, 'CADMIN');
    assert.equal(posted.args.text, renderProgress(null, 'UOWNER'));
    assert.deepEqual(updates(), [
      renderProgress(progress(20), 'UOWNER'),
      renderProgress(progress(30), 'UOWNER'),
      renderSummary(SUMMARY),
    ]);
    for (const u of calls.filter((c) => c.method === 'chat.update')) assert.equal(u.args.ts, '1001.000');
    assert.equal(deps.state.runningReindex, undefined, 'forgotten once done');
    assert.equal(clock.pending(), 0);
  });

  test('GIVEN a reindex already running THEN the running one is shown ephemerally, with where its progress is', async () => {
    const running = progress(60);
    const service = fakeService({ status: { reindexing: true, reindexProgress: running } });
    const { deps, calls } = build(service);
    deps.state.runningReindex = { channel: 'CPROGRESS', ts: '1.0' };
    const replies: string[] = [];
    await onReindexCommand({ command: command('UADMIN'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, [runningText(running, deps.state)]);
    assert.match(replies[0]!, new RegExp(`^${USER_MESSAGES.REINDEX_IN_PROGRESS} Progress is shown in <#CPROGRESS>`));
    assert.equal(service.reindexCalls, 0);
    assert.deepEqual(calls, []);
  });

  test('GIVEN the service says another reindex (not this process’s) started meanwhile THEN the message ends with it, pointing nowhere', async () => {
    const running = progress(5);
    const service = fakeService({
      reindex: async () => {
        throw new LookalikeError('REINDEX_IN_PROGRESS', 'busy', { details: { progress: running } });
      },
    });
    const { deps, calls } = build(service);
    await onReindexCommand({ command: command('UADMIN'), respond: async () => {} }, deps);
    const last = String(calls.filter((c) => c.method === 'chat.update').at(-1)?.args.text);
    assert.equal(last, `${USER_MESSAGES.REINDEX_IN_PROGRESS}\n${renderProgress(running)}`);
    assert.doesNotMatch(last, /Progress is shown in/, 'this message shows no progress: it must not point at itself');
    assert.equal(deps.state.runningReindex, undefined);
  });

  test('GIVEN another /reindex of this process runs and the status check raced THEN the message points at that one', async () => {
    const service = fakeService({
      reindex: async () => {
        throw new LookalikeError('REINDEX_IN_PROGRESS', 'busy', { details: { progress: progress(70) } });
      },
    });
    const { deps, calls } = build(service);
    const other = { channel: 'CPROGRESS', ts: '1.0' };
    deps.state.runningReindex = other;
    await onReindexCommand({ command: command('UADMIN'), respond: async () => {} }, deps);
    const last = String(calls.filter((c) => c.method === 'chat.update').at(-1)?.args.text);
    assert.match(last, /Progress is shown in <#CPROGRESS>/);
    assert.doesNotMatch(last, /<#CADMIN>/);
    assert.deepEqual(deps.state.runningReindex, other, 'the running one is still shown to later commands');
  });

  test('GIVEN the bot cannot post in the channel THEN it says so ephemerally and ends with the summary there', async () => {
    const { deps, calls } = build(
      fakeService(),
      fakeApi({ fail: { 'chat.postMessage': new Error('not_in_channel') } }),
    );
    const replies: string[] = [];
    await onReindexCommand({ command: command('UADMIN'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, ['Reindex started. I will tell you here when it is done.', renderSummary(SUMMARY)]);
    assert.equal(calls.filter((c) => c.method === 'chat.update').length, 0);
  });

  test('GIVEN the reindex fails THEN the message ends with the sentence, logged at error', async () => {
    const service = fakeService({
      reindex: async () => {
        throw new LookalikeError('CATALOG_NOT_FOUND', 'gone');
      },
    });
    const { deps, calls, log } = build(service);
    await onReindexCommand({ command: command('UADMIN'), respond: async () => {} }, deps);
    assert.equal(
      calls.filter((c) => c.method === 'chat.update').at(-1)?.args.text,
      `:x: ${new LookalikeError('INTERNAL', 'x').userMessage}`,
    );
    assert.equal(log.entries.find((e) => e.msg === 'reindex failed')?.level, 'error');
  });
});

describe('/reindex refused for mass removal, and its buttons (block_actions)', () => {
  const command = (user: string) => ({ channel_id: 'CADMIN', user_id: user, team_id: 'T1', text: '' });
  const press = (
    user: string,
    action: 'confirm' | 'cancel',
    asker = 'UADMIN',
    maxRemovals: number | undefined = 40,
  ) => ({
    action,
    user,
    asker,
    maxRemovals,
    channel: 'CADMIN',
    ts: '1001.000',
  });

  test('GIVEN the catalog refuses THEN the posted message becomes the sentence with Remove and Cancel buttons', async () => {
    const refusal = massRemovalRefusal(40, 40);
    const { deps, calls, service } = build(fakeService({ reindex: async () => Promise.reject(refusal) }));
    const replies: string[] = [];
    await onReindexCommand({ command: command('UADMIN'), respond: async (t) => void replies.push(t) }, deps);
    assert.deepEqual(replies, []);
    const last = calls.filter((c) => c.method === 'chat.update').at(-1);
    assert.deepEqual(last?.args, {
      channel: 'CADMIN',
      ts: '1001.000',
      ...renderMassRemoval(refusal.userMessage, 'UADMIN', { wouldRemove: 40 }),
    });
    type Blocks = { type: string; elements?: { action_id: string; value: string; style?: string }[] }[];
    const actions = ((last?.args.blocks ?? []) as Blocks).find((b) => b.type === 'actions');
    assert.deepEqual(
      actions?.elements?.map((e) => [e.action_id, e.value, e.style]),
      [
        [REINDEX_ACTIONS.confirm, 'UADMIN:40', 'danger'],
        [REINDEX_ACTIONS.cancel, 'UADMIN:40', undefined],
      ],
    );
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: false }]);
    assert.equal(deps.state.runningReindex, undefined, 'no reindex is shown as running');
  });

  test('GIVEN the bot cannot post in the channel THEN the refusal is private, saying how to confirm', async () => {
    const refusal = massRemovalRefusal(3, 4);
    const { deps } = build(
      fakeService({ reindex: async () => Promise.reject(refusal) }),
      fakeApi({ fail: { 'chat.postMessage': new Error('not_in_channel') } }),
    );
    const replies: string[] = [];
    await onReindexCommand({ command: command('UADMIN'), respond: async (t) => void replies.push(t) }, deps);
    assert.equal(replies.at(-1), `:warning: ${refusal.userMessage}\n${CONFIRM_NEEDS_CHANNEL}`);
  });

  test('GIVEN the asker presses Remove THEN the buttons go and the reindex runs with allowRemovals and the count to the summary', async () => {
    const { deps, calls, service } = build();
    const replies: string[] = [];
    await onReindexButton({ press: press('UADMIN', 'confirm'), respond: async (t) => void replies.push(t) }, deps);
    const updates = calls.filter((c) => c.method === 'chat.update');
    assert.deepEqual(updates[0]?.args.blocks, []);
    assert.equal(updates.at(-1)?.args.text, renderSummary(SUMMARY));
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: true, maxRemovals: 40 }]);
    assert.deepEqual(replies, []);
  });

  test('GIVEN more files gone since the refusal THEN the press is refused again with buttons carrying the new count', async () => {
    const refusal = massRemovalRefusal(45, 50);
    const { deps, calls, service } = build(fakeService({ reindex: async () => Promise.reject(refusal) }));
    await onReindexButton({ press: press('UADMIN', 'confirm'), respond: async () => {} }, deps);
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: true, maxRemovals: 40 }]);
    assert.deepEqual(calls.filter((c) => c.method === 'chat.update').at(-1)?.args, {
      channel: 'CADMIN',
      ts: '1001.000',
      ...renderMassRemoval(refusal.userMessage, 'UADMIN', { wouldRemove: 45 }),
    });
    type Blocks = { type: string; elements?: { value: string }[] }[];
    const blocks = calls.filter((c) => c.method === 'chat.update').at(-1)?.args.blocks as Blocks;
    assert.deepEqual(
      blocks.find((b) => b.type === 'actions')?.elements?.map((e) => e.value),
      ['UADMIN:45', 'UADMIN:45'],
    );
  });

  test('GIVEN a Remove button from before the count was in its value THEN the press runs a plain reindex', async () => {
    const { deps, service } = build();
    await onReindexButton(
      { press: { ...press('UADMIN', 'confirm'), maxRemovals: undefined }, respond: async () => {} },
      deps,
    );
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: false }]);
  });

  test('GIVEN button values THEN parseReindexButtonValue reads the asker and the count', () => {
    assert.equal(reindexButtonValue('U1', 8), 'U1:8');
    assert.deepEqual(parseReindexButtonValue('U1:8'), { asker: 'U1', maxRemovals: 8 });
    assert.deepEqual(parseReindexButtonValue('U1'), { asker: 'U1', maxRemovals: undefined });
    assert.deepEqual(parseReindexButtonValue('U1:-1'), { asker: '', maxRemovals: undefined });
    assert.deepEqual(parseReindexButtonValue(undefined), { asker: '', maxRemovals: undefined });
  });

  test('GIVEN another admin presses, or the asker is no longer an admin THEN a private refusal and no reindex', async () => {
    const { deps, calls, service } = build(fakeService(), fakeApi({ admins: ['UOTHER'] }));
    const replies: string[] = [];
    await onReindexButton({ press: press('UOTHER', 'confirm'), respond: async (t) => void replies.push(t) }, deps);
    await onReindexButton(
      { press: press('UGONE', 'confirm', 'UGONE'), respond: async (t) => void replies.push(t) },
      deps,
    );
    assert.deepEqual(replies, [REINDEX_NOT_YOURS_TEXT, USER_MESSAGES.FORBIDDEN]);
    assert.equal(service.reindexCalls, 0);
    assert.deepEqual(
      calls.filter((c) => c.method.startsWith('chat.')),
      [],
    );
  });

  test('GIVEN the asker presses Cancel THEN the message says so without buttons and nothing runs', async () => {
    const { deps, calls, service } = build();
    await onReindexButton({ press: press('UADMIN', 'cancel'), respond: async () => {} }, deps);
    assert.deepEqual(
      calls.map((c) => [c.method, c.args.text, c.args.blocks]),
      [['chat.update', 'Reindex cancelled by <@UADMIN>. Nothing was changed.', []]],
    );
    assert.equal(service.reindexCalls, 0);
  });
});
