/**
 * Unit tests of every Discord listener with a fake SimilarityService: no gateway, no model.
 * Events are plain objects shaped like the discord.js ones the listeners read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LookalikeError, USER_MESSAGES } from '@lookalike/core';
import {
  type AutocompleteInteraction,
  COLLAGE_FILENAME,
  type FindSimilarInteraction,
  onAutocomplete,
  onFindSimilar,
  onMessageCreate,
  onReindexButton,
  onReindexCommand,
  onSimilarCommand,
  parseReindexButtonId,
  REINDEX_CONFIRMED_TEXT,
  REINDEX_NOT_YOURS_TEXT,
  reindexButtonId,
  renderMassRemoval,
  renderProgress,
  renderSummary,
} from '@lookalike/discord';
import { PermissionFlagsBits, RESTJSONErrorCodes } from 'discord.js';
import {
  fakeService,
  manualClock,
  massRemovalRefusal,
  NOTICES_WHILE_INDEXING,
  progress,
  SUMMARY,
  serviceError,
  settle,
} from '../chat/fakes.js';
import {
  ADMIN_ROLE,
  attachments,
  build,
  buttonPress,
  channel,
  EPHEMERAL,
  image,
  interaction,
  message,
  OTHER,
  reindexInteraction,
  similar,
  textFile,
  WATCHED,
} from './listener-fakes.js';

describe('onMessageCreate', () => {
  test('GIVEN five images in a watched channel THEN the first four are searched by URL, in order, and each gets an answer with the notices', async () => {
    const { deps, service } = build();
    const msg = message({ attachments: [1, 2, 3, 4, 5].map((n) => image(n)) });
    await onMessageCreate(msg, deps);
    assert.deepEqual(
      service.calls.map((c) => c.image),
      [1, 2, 3, 4].map((n) => ({ url: image(n).url })),
    );
    for (const c of service.calls) {
      assert.equal(c.options.surface, 'discord');
      assert.equal(c.options.userId, 'discord:user-1');
      assert.equal(typeof c.options.requestId, 'string');
    }
    assert.equal(msg.replies.length, 4);
    for (const r of msg.replies) {
      assert.equal(r.files?.[0]?.name, COLLAGE_FILENAME);
      assert.equal(r.embeds?.length, 1);
      assert.deepEqual(r.allowedMentions, { parse: [], repliedUser: false });
      // Notices come from their text: the untrained warning and the indexing progress.
      for (const n of NOTICES_WHILE_INDEXING) assert.ok(r.content?.includes(n.text), `${r.content} shows ${n.code}`);
    }
    assert.ok(msg.typing >= 4, 'typing is shown while each answer is computed');
    assert.equal(service.imagesCalls, 0, 'result images are not loaded unless attachImages');
  });

  for (const code of ['RATE_LIMITED', 'BUSY'] as const) {
    test(`GIVEN ${code} on the second image THEN its sentence is the last reply and the rest are not searched`, async () => {
      const { deps, service, log } = build(
        fakeService({ answer: (_c, n) => (n === 1 ? serviceError(code) : undefined) }),
      );
      const msg = message({ attachments: [1, 2, 3].map((n) => image(n)) });
      await onMessageCreate(msg, deps);
      assert.equal(service.calls.length, 2);
      assert.equal(msg.replies.length, 2);
      assert.equal(msg.replies[1]?.content, USER_MESSAGES[code]);
      assert.equal(msg.replies[1]?.files, undefined);
      assert.equal(log.entries.find((e) => e.msg === 'image post failed')?.level, 'info');
    });
  }

  test('GIVEN a damaged first image THEN its error sentence is replied and the next image is still answered', async () => {
    const { deps, service } = build(
      fakeService({ answer: (_c, n) => (n === 0 ? serviceError('IMAGE_DECODE_FAILED') : undefined) }),
    );
    const msg = message({ attachments: [image(1), image(2)] });
    await onMessageCreate(msg, deps);
    assert.equal(service.calls.length, 2);
    assert.equal(msg.replies[0]?.content, USER_MESSAGES.IMAGE_DECODE_FAILED);
    assert.equal(msg.replies[1]?.files?.[0]?.name, COLLAGE_FILENAME);
  });

  test('GIVEN the first index has not committed anything THEN the reply is the INDEX_BUILDING sentence, not "run /reindex"', async () => {
    const sentence =
      'The catalog is being indexed right now: 0 of 44,441 items so far (about 1:05 left). Try again soon.';
    const { deps } = build(fakeService({ answer: () => serviceError('INDEX_BUILDING', sentence) }));
    const msg = message({ attachments: [image(1)] });
    await onMessageCreate(msg, deps);
    assert.deepEqual(
      msg.replies.map((r) => r.content),
      [sentence],
    );
  });

  test('GIVEN an internal failure THEN the generic sentence is replied and it is logged at error', async () => {
    const { deps, log } = build(fakeService({ answer: () => new LookalikeError('INTERNAL', 'embedder crashed') }));
    const msg = message({ attachments: [image(1)] });
    await onMessageCreate(msg, deps);
    assert.equal(msg.replies[0]?.content, new LookalikeError('INTERNAL', 'x').userMessage);
    assert.equal(log.entries.find((e) => e.msg === 'image post failed')?.level, 'error');
  });

  test('GIVEN a post that must be ignored THEN the service is not called and nothing is replied', async () => {
    const cases = [
      message({ attachments: [image(1)], bot: true }),
      message({ attachments: [image(1)], system: true }),
      message({ attachments: [image(1)], channelId: OTHER }),
      message({ attachments: [textFile] }),
      message({ content: 'hello' }),
    ];
    const { deps, service } = build();
    for (const msg of cases) {
      await onMessageCreate(msg, deps);
      assert.deepEqual(msg.replies, []);
    }
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN a mention in an unwatched channel THEN an image is answered; no image gets NO_IMAGE, a PDF UNSUPPORTED_IMAGE', async () => {
    const { deps, service } = build();
    const withImage = message({ channelId: OTHER, mentionsBot: true, attachments: [image(1)] });
    const noImage = message({ channelId: OTHER, mentionsBot: true, content: 'hi' });
    const pdf = message({
      channelId: OTHER,
      mentionsBot: true,
      attachments: [{ name: 'a.pdf', contentType: 'application/pdf', url: 'https://cdn/a.pdf' }],
    });
    for (const m of [withImage, noImage, pdf]) await onMessageCreate(m, deps);
    assert.equal(service.calls.length, 1);
    assert.equal(withImage.replies[0]?.files?.[0]?.name, COLLAGE_FILENAME);
    assert.deepEqual(noImage.replies, [
      { content: USER_MESSAGES.NO_IMAGE, allowedMentions: { parse: [], repliedUser: false } },
    ]);
    assert.equal(pdf.replies[0]?.content, USER_MESSAGES.UNSUPPORTED_IMAGE);
  });

  test('GIVEN a thread whose parent is watched, or watchChannels ["*"] THEN the post is answered', async () => {
    const { deps, service } = build();
    await onMessageCreate(message({ channelId: 'thread-1', parentId: WATCHED, attachments: [image(1)] }), deps);
    const all = build(fakeService(), {});
    all.deps.settings = { ...all.deps.settings, watchChannels: ['*'] };
    await onMessageCreate(message({ channelId: 'anywhere', attachments: [image(2)] }), all.deps);
    assert.equal(service.calls.length, 1);
    assert.equal(all.service.calls.length, 1);
  });

  test('GIVEN empty messages in a watched channel THEN the Message Content hint is logged once', async () => {
    const { deps, log } = build();
    await onMessageCreate(message(), deps);
    await onMessageCreate(message(), deps);
    const hints = log.entries.filter((e) => e.level === 'warn' && /Message Content intent/.test(e.msg ?? ''));
    assert.equal(hints.length, 1);
  });

  test('GIVEN attachImages THEN the result images are attached beside the collage', async () => {
    const { deps, service } = build();
    deps.settings = { ...deps.settings, attachImages: true };
    const msg = message({ attachments: [image(1)] });
    await onMessageCreate(msg, deps);
    assert.equal(service.imagesCalls, 1);
    assert.deepEqual(
      msg.replies[0]?.files?.map((f) => f.name),
      [
        COLLAGE_FILENAME,
        '1-shirts.jpg',
        '2-shirts.jpg',
        '3-shirts.jpg',
        '4-shirts.jpg',
        '5-shirts.jpg',
        '6-shirts.jpg',
      ],
    );
  });

  test('GIVEN the same message delivered twice (a gateway replay) THEN it is answered once', async () => {
    const { deps, service } = build();
    const msg = message({ attachments: [image(1)] });
    await Promise.all([onMessageCreate(msg, deps), onMessageCreate(msg, deps)]);
    await onMessageCreate(msg, deps);
    assert.equal(service.calls.length, 1);
    assert.equal(msg.replies.length, 1);
    await onMessageCreate(message({ attachments: [image(1)] }), deps);
    assert.equal(service.calls.length, 2, 'another message is answered');
  });

  test('GIVEN the claims say another replica has the message THEN nothing is searched; a claim is keyed by the message id', async () => {
    const claimed: string[] = [];
    const { deps, service } = build(fakeService(), {
      claims: {
        claim: async (key) => {
          claimed.push(key);
          return false;
        },
        done: async () => assert.fail('not claimed here'),
        failed: async () => assert.fail('not claimed here'),
      },
    });
    const msg = message({ attachments: [image(1)] });
    await onMessageCreate(msg, deps);
    assert.deepEqual(claimed, [`discord:${msg.id}`]);
    assert.equal(service.calls.length, 0);
    assert.equal(msg.replies.length, 0);
  });

  test('GIVEN the bot is stopping THEN no image is searched', async () => {
    const { deps, service } = build(fakeService(), { stopping: () => true });
    await onMessageCreate(message({ attachments: [image(1), image(2)] }), deps);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN the reply fails THEN it is logged compactly with the request and message ids, never thrown', async () => {
    const { deps, log } = build();
    const msg = message({ attachments: [image(1)], replyFails: true });
    await onMessageCreate(msg, deps);
    const failed = log.entries.find((e) => e.msg === 'reply failed');
    assert.equal(failed?.level, 'error');
    assert.ok(failed, 'the failed reply is logged');
    assert.equal(failed.obj.messageId, msg.id);
    assert.equal(typeof failed.obj.requestId, 'string');
    assert.equal((failed.obj.err as { status?: number }).status, 500);
    assert.ok(!JSON.stringify(failed.obj.err).includes('big'), 'the request body is left out');
  });
});

describe('onSimilarCommand (/similar)', () => {
  test('GIVEN an image with gender, category and k THEN it defers, searches the URL with those filters and edits the reply', async () => {
    const { deps, service } = build();
    const { i, calls } = similar({ image: image(1), gender: 'Women', category: 'Shirts', k: 2 });
    await onSimilarCommand(i, deps);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit'],
    );
    assert.equal(calls[0]?.body, undefined, 'the deferred reply is public');
    const call = service.calls[0]!;
    assert.deepEqual(call.image, { url: image(1).url });
    assert.equal(call.options.k, 2);
    assert.deepEqual(call.options.filters, { gender: 'Women', articleType: 'Shirts' });
    assert.equal(call.options.surface, 'discord');
    assert.equal(call.options.userId, 'discord:user-2');
    const edit = calls[1]!.body!;
    assert.equal(edit.files?.[0]?.name, COLLAGE_FILENAME);
    for (const n of NOTICES_WHILE_INDEXING) assert.ok(edit.content?.includes(n.text));
  });

  test('GIVEN no options THEN neither k nor filters are sent (the service applies its defaults)', async () => {
    const { deps, service } = build();
    await onSimilarCommand(similar({ image: image(1) }).i, deps);
    const options = service.calls[0]!.options;
    assert.ok(!('k' in options), 'no k of the adapter’s own');
    assert.ok(!('filters' in options));
  });

  test('GIVEN no attachment or a text file THEN an ephemeral NO_IMAGE / UNSUPPORTED_IMAGE at once', async () => {
    const { deps, service } = build();
    const none = similar({ image: null });
    const text = similar({ image: textFile });
    await onSimilarCommand(none.i, deps);
    await onSimilarCommand(text.i, deps);
    assert.deepEqual(none.calls, [{ op: 'reply', body: { content: USER_MESSAGES.NO_IMAGE, flags: EPHEMERAL } }]);
    assert.deepEqual(text.calls, [
      { op: 'reply', body: { content: USER_MESSAGES.UNSUPPORTED_IMAGE, flags: EPHEMERAL } },
    ]);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN the service fails THEN the deferred reply is deleted and the sentence follows up ephemerally', async () => {
    const { deps } = build(fakeService({ answer: () => serviceError('RATE_LIMITED') }));
    const { i, calls } = similar({ image: image(1) });
    await onSimilarCommand(i, deps);
    assert.deepEqual(calls, [
      { op: 'defer', body: undefined },
      { op: 'delete' },
      { op: 'followUp', body: { content: USER_MESSAGES.RATE_LIMITED, flags: EPHEMERAL } },
    ]);
  });

  test('GIVEN deferReply fails (interaction expired) THEN the service is not called', async () => {
    const { deps, service, log } = build();
    await onSimilarCommand(similar({ image: image(1) }, { deferFails: true }).i, deps);
    assert.equal(service.calls.length, 0);
    assert.equal(log.entries.find((e) => e.msg === 'deferReply failed')?.level, 'error');
  });
});

describe('onFindSimilar ("Find similar" message command)', () => {
  test('GIVEN a target message with a text file then a photo THEN the photo is searched and the deferred reply edited', async () => {
    const { deps, service } = build();
    const { base, calls } = interaction();
    const i: FindSimilarInteraction = { ...base, targetMessage: { attachments: attachments([textFile, image(7)]) } };
    await onFindSimilar(i, deps);
    assert.deepEqual(service.calls[0]?.image, { url: image(7).url });
    assert.equal(service.calls[0]?.options.filters, undefined);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit'],
    );
  });

  test('GIVEN a target message without an image THEN an ephemeral NO_IMAGE', async () => {
    const { deps, service } = build();
    const { base, calls } = interaction();
    await onFindSimilar({ ...base, targetMessage: { attachments: attachments([]) } }, deps);
    assert.deepEqual(calls, [{ op: 'reply', body: { content: USER_MESSAGES.NO_IMAGE, flags: EPHEMERAL } }]);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN INDEX_BUILDING THEN its sentence follows up ephemerally', async () => {
    const { deps } = build(fakeService({ answer: () => serviceError('INDEX_BUILDING') }));
    const { base, calls } = interaction();
    await onFindSimilar({ ...base, targetMessage: { attachments: attachments([image(1)]) } }, deps);
    assert.equal(calls.at(-1)?.body?.content, USER_MESSAGES.INDEX_BUILDING);
  });
});

describe('onAutocomplete', () => {
  function autocomplete(name: string, value: string, fails = false) {
    const responses: unknown[] = [];
    const i: AutocompleteInteraction = {
      id: 'ac-1',
      options: { getFocused: () => ({ name, value }) },
      async respond(choices) {
        if (fails) throw new Error('expired');
        responses.push(choices);
      },
    };
    return { i, responses };
  }
  const facets = { genders: [], articleTypes: ['Shirts', 'Tshirts', 'Sweatshirts', 'Casual Shoes', 'x'.repeat(101)] };

  test('GIVEN a typed category THEN article types starting with it come first, then those containing it', async () => {
    const { deps } = build(fakeService({ facets }));
    const { i, responses } = autocomplete('category', 'Sh');
    await onAutocomplete(i, deps);
    assert.deepEqual(responses, [
      [
        { name: 'Shirts', value: 'Shirts' },
        { name: 'Tshirts', value: 'Tshirts' },
        { name: 'Sweatshirts', value: 'Sweatshirts' },
        { name: 'Casual Shoes', value: 'Casual Shoes' },
      ],
    ]);
  });

  test('GIVEN another option focused THEN no choices; GIVEN respond fails THEN nothing is thrown', async () => {
    const { deps } = build(fakeService({ facets }));
    const other = autocomplete('gender', 'w');
    await onAutocomplete(other.i, deps);
    assert.deepEqual(other.responses, [[]]);
    await onAutocomplete(autocomplete('category', '', true).i, deps);
  });
});

describe('onReindexCommand (/reindex)', () => {
  test('GIVEN a member without Manage Server or an admin role THEN FORBIDDEN ephemerally and no reindex', async () => {
    const { deps, service } = build();
    const { i, calls } = reindexInteraction({ roles: ['role-other'] });
    await onReindexCommand(i, deps);
    assert.deepEqual(calls, [{ op: 'reply', body: { content: USER_MESSAGES.FORBIDDEN, flags: EPHEMERAL } }]);
    assert.equal(service.reindexCalls, 0);
  });

  test('GIVEN Manage Server, an admin role id, or an admin role in the member cache THEN the reindex runs', async () => {
    for (const member of [
      { permissions: [PermissionFlagsBits.ManageGuild] },
      { roles: [ADMIN_ROLE] },
      { roles: 'cache' as const },
    ]) {
      const { deps, service } = build();
      const { i, calls } = reindexInteraction(member);
      await onReindexCommand(i, deps);
      assert.equal(
        service.reindexCalls,
        1,
        JSON.stringify(member, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      );
      assert.deepEqual(calls[0], { op: 'defer', body: { flags: EPHEMERAL } });
      assert.deepEqual(calls.at(-1), { op: 'edit', body: { content: renderSummary(SUMMARY) } });
    }
  });

  test('GIVEN progress events THEN edits go out at most once per interval, the latest text winning, then the summary', async () => {
    const clock = manualClock();
    let edits: () => string[] = () => [];
    const service = fakeService({
      reindex: async (onProgress) => {
        onProgress(progress(10)); // written at once
        clock.advance(100);
        onProgress(progress(20)); // waits…
        clock.advance(100);
        onProgress(progress(30)); // …and is replaced
        await settle();
        assert.deepEqual(edits(), [renderProgress(progress(10))]);
        clock.advance(800);
        await settle();
        assert.deepEqual(edits(), [renderProgress(progress(10)), renderProgress(progress(30))]);
        onProgress(progress(40)); // dropped: the run ends before the next interval
        return SUMMARY;
      },
    });
    const { deps } = build(service, { clock });
    deps.settings = { ...deps.settings, progressIntervalMs: 1000 };
    const { i, calls } = reindexInteraction({ roles: [ADMIN_ROLE] });
    edits = () => calls.filter((c) => c.op === 'edit').map((c) => c.body?.content ?? '');
    await onReindexCommand(i, deps);
    assert.deepEqual(edits(), [renderProgress(progress(10)), renderProgress(progress(30)), renderSummary(SUMMARY)]);
    assert.equal(clock.pending(), 0);
  });

  test('GIVEN a reindex already running THEN the reply shows it and its progress', async () => {
    const running = progress(55);
    const service = fakeService({
      reindex: async () => {
        throw new LookalikeError('REINDEX_IN_PROGRESS', 'busy', { details: { progress: running } });
      },
    });
    const { deps } = build(service);
    const { i, calls } = reindexInteraction({ roles: [ADMIN_ROLE] });
    await onReindexCommand(i, deps);
    assert.equal(calls.at(-1)?.body?.content, `${USER_MESSAGES.REINDEX_IN_PROGRESS}\n${renderProgress(running)}`);
  });

  const expiredToken = (code: number) =>
    Object.assign(new Error('Invalid Webhook Token'), { code, status: code === 10015 ? 404 : 401 });

  test('GIVEN the interaction token expires during a long run (50027) THEN edits stop and the summary is posted in the channel, pinging the admin', async () => {
    const clock = manualClock();
    const service = fakeService({
      reindex: async (onProgress) => {
        onProgress(progress(10)); // edited
        await settle();
        clock.advance(1000);
        onProgress(progress(20)); // Discord says the token is no longer valid
        await settle();
        clock.advance(1000);
        onProgress(progress(30)); // not even tried
        await settle();
        return SUMMARY;
      },
    });
    const { deps, log } = build(service, { clock });
    deps.settings = { ...deps.settings, progressIntervalMs: 1000 };
    const { i, calls, sent } = reindexInteraction(
      { roles: [ADMIN_ROLE] },
      { editError: (n) => (n >= 1 ? expiredToken(RESTJSONErrorCodes.InvalidWebhookToken) : undefined) },
    );
    await onReindexCommand(i, deps);
    assert.deepEqual(
      calls.map((c) => [c.op, c.body?.content]),
      [
        ['defer', undefined],
        ['edit', renderProgress(progress(10))],
        ['edit-failed', renderProgress(progress(20))],
      ],
      'no edit after the token expired, not even the summary',
    );
    assert.deepEqual(sent, [
      { content: `<@user-2> ${renderSummary(SUMMARY)}`, allowedMentions: { users: ['user-2'] } },
    ]);
    assert.equal(log.entries.find((e) => /token expired/.test(e.msg ?? ''))?.level, 'info');
    assert.equal(log.entries.filter((e) => e.msg === 'reindex progress edit failed').length, 0);
    assert.equal(clock.pending(), 0);
  });

  test('GIVEN only the summary edit fails with Unknown Webhook (10015) THEN the summary is posted in the channel', async () => {
    const { deps } = build();
    const { i, calls, sent } = reindexInteraction(
      { roles: [ADMIN_ROLE] },
      { editError: () => expiredToken(RESTJSONErrorCodes.UnknownWebhook) },
    );
    await onReindexCommand(i, deps);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit-failed'],
    );
    assert.deepEqual(
      sent.map((m) => m.content),
      [`<@user-2> ${renderSummary(SUMMARY)}`],
    );
  });

  test('GIVEN the token expired and the channel is unknown THEN the lost result is logged, nothing thrown', async () => {
    const { deps, log } = build();
    const { i } = reindexInteraction(
      { roles: [ADMIN_ROLE] },
      { channel: null, editError: () => expiredToken(RESTJSONErrorCodes.InvalidWebhookToken) },
    );
    await onReindexCommand(i, deps);
    assert.equal(log.entries.find((e) => /result lost/.test(e.msg ?? ''))?.level, 'warn');
  });

  test('GIVEN a progress edit fails for another reason THEN it is logged at warn, editing goes on and nothing is posted in the channel', async () => {
    const clock = manualClock();
    const service = fakeService({
      reindex: async (onProgress) => {
        onProgress(progress(10)); // fails with a 500
        await settle();
        clock.advance(1000);
        onProgress(progress(20));
        await settle();
        return SUMMARY;
      },
    });
    const { deps, log } = build(service, { clock });
    deps.settings = { ...deps.settings, progressIntervalMs: 1000 };
    const server = channel();
    const { i, calls } = reindexInteraction(
      { roles: [ADMIN_ROLE] },
      { channel: server, editError: (n) => (n === 0 ? Object.assign(new Error('500'), { status: 500 }) : undefined) },
    );
    await onReindexCommand(i, deps);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit-failed', 'edit', 'edit'],
    );
    assert.equal(calls.at(-1)?.body?.content, renderSummary(SUMMARY));
    assert.equal(log.entries.find((e) => e.msg === 'reindex progress edit failed')?.level, 'warn');
    assert.deepEqual(server.sent, []);
  });

  test('GIVEN the reindex fails THEN the reply is the sentence and the failure is logged at error', async () => {
    const service = fakeService({
      reindex: async () => {
        throw new LookalikeError('CATALOG_NOT_FOUND', 'no folder');
      },
    });
    const { deps, log } = build(service);
    const { i, calls } = reindexInteraction({ roles: [ADMIN_ROLE] });
    await onReindexCommand(i, deps);
    assert.equal(calls.at(-1)?.body?.content, new LookalikeError('INTERNAL', 'x').userMessage);
    assert.equal(log.entries.find((e) => e.msg === 'reindex failed')?.level, 'error');
  });
});

describe('/reindex refused for mass removal, and its buttons', () => {
  /** The components of a recorded edit as JSON (the listener sends builders). */
  const componentsOf = (body: unknown) =>
    JSON.parse(JSON.stringify((body as { components?: unknown[] }).components ?? [])) as unknown[];

  test('GIVEN the catalog refuses THEN the reply shows its sentence with Remove and Cancel buttons naming the admin', async () => {
    const refusal = massRemovalRefusal(1234, 1500);
    const { deps, service } = build(fakeService({ reindex: async () => Promise.reject(refusal) }));
    const { i, calls } = reindexInteraction({ roles: [ADMIN_ROLE] });
    await onReindexCommand(i, deps);
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit'],
    );
    assert.equal(calls[1]?.body?.content, renderMassRemoval(refusal.userMessage));
    assert.deepEqual(componentsOf(calls[1]?.body), [
      {
        type: 1,
        components: [
          {
            type: 2,
            style: 4,
            label: 'Remove 1,234 items and reindex',
            custom_id: 'reindex:confirm:user-2:1234',
          },
          { type: 2, style: 2, label: 'Cancel', custom_id: 'reindex:cancel:user-2:1234' },
        ],
      },
    ]);
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: false }]);
  });

  test('GIVEN the asking admin presses Remove THEN the buttons go at once and the reindex runs with allowRemovals and the count', async () => {
    const { deps, service } = build();
    const { i, calls } = buttonPress(reindexButtonId('confirm', 'user-7', 1234), 'user-7', { roles: [ADMIN_ROLE] });
    await onReindexButton(i, deps);
    assert.deepEqual(calls[0], { op: 'update', body: { content: REINDEX_CONFIRMED_TEXT, components: [] } });
    assert.deepEqual(calls.at(-1), { op: 'edit', body: { content: renderSummary(SUMMARY) } });
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: true, maxRemovals: 1234 }]);
  });

  test('GIVEN more files gone since the refusal THEN the press is refused again with buttons carrying the new count', async () => {
    const refusal = massRemovalRefusal(1300, 1500);
    const { deps, service } = build(fakeService({ reindex: async () => Promise.reject(refusal) }));
    const { i, calls } = buttonPress(reindexButtonId('confirm', 'user-7', 1234), 'user-7', { roles: [ADMIN_ROLE] });
    await onReindexButton(i, deps);
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: true, maxRemovals: 1234 }]);
    const ids = (componentsOf(calls.at(-1)?.body) as { components: { custom_id: string }[] }[]).flatMap((r) =>
      r.components.map((c) => c.custom_id),
    );
    assert.deepEqual(ids, [reindexButtonId('confirm', 'user-7', 1300), reindexButtonId('cancel', 'user-7', 1300)]);
  });

  test('GIVEN a Remove button from before the count was in its id THEN the press runs a plain reindex (no removals allowed)', async () => {
    const { deps, service } = build();
    const { i } = buttonPress('reindex:confirm:user-7', 'user-7', { roles: [ADMIN_ROLE] });
    await onReindexButton(i, deps);
    assert.deepEqual(service.reindexOptions, [{ allowRemovals: false }]);
  });

  test('GIVEN button ids THEN parseReindexButtonId reads the action, asker and count, within 100 characters', () => {
    assert.deepEqual(parseReindexButtonId('reindex:confirm:123:8'), {
      action: 'confirm',
      userId: '123',
      maxRemovals: 8,
    });
    assert.deepEqual(parseReindexButtonId('reindex:cancel:123'), {
      action: 'cancel',
      userId: '123',
      maxRemovals: undefined,
    });
    assert.equal(parseReindexButtonId('reindex:confirm:123:-1'), undefined);
    assert.equal(parseReindexButtonId('reindex:confirm:123:99999999999999999'), undefined, 'beyond a safe integer');
    assert.equal(parseReindexButtonId('similar:confirm:123:8'), undefined);
    const longest = reindexButtonId('confirm', 'u'.repeat(64), Number.MAX_SAFE_INTEGER);
    assert.ok(longest.length <= 100, `${longest.length} characters`);
    assert.deepEqual(parseReindexButtonId(longest)?.maxRemovals, Number.MAX_SAFE_INTEGER);
  });

  test('GIVEN someone else presses, or the asker lost the admin role THEN a private refusal and no reindex', async () => {
    const { deps, service } = build();
    const other = buttonPress(reindexButtonId('confirm', 'user-7', 1234), 'user-8', {
      permissions: [PermissionFlagsBits.ManageGuild],
    });
    await onReindexButton(other.i, deps);
    assert.deepEqual(other.calls, [{ op: 'reply', body: { content: REINDEX_NOT_YOURS_TEXT, flags: EPHEMERAL } }]);
    const demoted = buttonPress(reindexButtonId('confirm', 'user-7', 1234), 'user-7', { roles: [] });
    await onReindexButton(demoted.i, deps);
    assert.deepEqual(demoted.calls, [{ op: 'reply', body: { content: USER_MESSAGES.FORBIDDEN, flags: EPHEMERAL } }]);
    assert.equal(service.reindexCalls, 0);
  });
});
