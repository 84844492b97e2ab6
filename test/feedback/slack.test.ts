/**
 * Feedback on Slack end to end: the real Bolt App (HTTP mode, signed requests) behind the
 * process's HTTP server, the loopback fake Slack, the real service, and the runtime's recorder
 * (feedback.sqlite in a temp data dir). A `reaction_added` :+1: on the answer message is stored;
 * other reactions are not; with LOOKALIKE_FEEDBACK=off a second bot records nothing at all.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FEEDBACK_FILE, feedbackPath, openSqliteFeedbackStore } from '@lookalike/catalog';
import { hashUserId, parseConfig, silentLogger } from '@lookalike/core';
import { feedbackSalt, openFeedback, type ProcessFeedback } from '@lookalike/runtime';
import { createHttpServer, type HttpServer } from '@lookalike/server';
import { createSlackBot, type SlackBot } from '@lookalike/slack';
import { FakeSlack, type RecordedCall, SlackSigner } from '../fakes/slack.js';
import { createTestStack, type TestStack } from '../helpers/stack.js';
import { databaseBytes, type WatchedRecorder, watchRecorder } from './helpers.js';

const SECRET = 'feedback-test-signing-secret-0123';
const CHANNEL = 'C0FEEDBACK';

interface SlackRig {
  fake: FakeSlack;
  bot: SlackBot;
  http: HttpServer;
  signer: SlackSigner;
  feedback: ProcessFeedback;
  watched: WatchedRecorder;
  dataDir: string;
  close(): Promise<void>;
}

let stack: TestStack;
let photo: Buffer;

/** A Slack bot over the shared stack, with the runtime's recorder for `env`. */
async function startRig(name: string, env: Record<string, string>): Promise<SlackRig> {
  const dataDir = join(stack.root, name);
  const feedback = await openFeedback(parseConfig({ LOOKALIKE_DATA_DIR: dataDir, ...env }), silentLogger);
  const watched = watchRecorder(feedback.recorder);
  const fake = await FakeSlack.start();
  const bot = createSlackBot({
    service: stack.service,
    botToken: fake.botToken,
    signingSecret: SECRET,
    apiUrl: fake.apiUrl,
    retries: 0,
    logger: silentLogger,
    feedback: watched.recorder,
  });
  await bot.start();
  const http = createHttpServer({
    service: stack.service,
    logger: silentLogger,
    localPage: false,
    routes: [bot.route!],
  });
  const { port } = await http.listen(0, '127.0.0.1');
  const signer = new SlackSigner(`http://127.0.0.1:${port}/slack/events`, SECRET, fake);
  return {
    fake,
    bot,
    http,
    signer,
    feedback,
    watched,
    dataDir,
    async close() {
      await bot.stop();
      await http.close();
      await fake.stop();
      await feedback.close();
    },
  };
}

/** Shares the photo in CHANNEL as `user`; resolves with the answer's chat.postMessage call. */
async function share(rig: SlackRig, user: string): Promise<RecordedCall> {
  const file = rig.fake.addFile({ name: 'look.jpg', mimetype: 'image/jpeg', bytes: photo, user });
  const ts = rig.fake.nextTs();
  const before = rig.fake.callsTo('chat.postMessage').length;
  const res = await rig.signer.postEvent({
    type: 'message',
    subtype: 'file_share',
    channel: CHANNEL,
    channel_type: 'channel',
    user,
    text: '',
    ts,
    event_ts: ts,
    files: [file],
  });
  assert.equal(res.status, 200);
  return rig.fake.waitFor((calls) => {
    const posts = calls.filter((c) => c.method === 'chat.postMessage');
    return posts.length > before ? posts[before] : undefined;
  }, 60_000);
}

const tsOf = (call: RecordedCall) => (call.response as { ts: string }).ts;

function reaction(user: string, name: string, ts: string, type = 'message') {
  return {
    type: 'reaction_added',
    user,
    reaction: name,
    item_user: 'UBOT',
    item: type === 'message' ? { type, channel: CHANNEL, ts } : { type, file: 'F1' },
    event_ts: `${Date.now() / 1000}`,
  };
}

before(async () => {
  stack = await createTestStack({ catalogSize: 12 });
  const first = stack.items.find((i) => i.path.endsWith('.jpg'));
  if (first === undefined) throw new Error('test catalog has no JPEG');
  photo = await readFile(first.path);
});
after(() => stack?.close());

describe('Slack feedback', () => {
  let rig: SlackRig;
  before(async () => {
    rig = await startRig('on', {});
  });
  after(() => rig?.close());

  test('GIVEN a shared photo THEN the answer message is recorded as <channel>:<ts>', async () => {
    const post = await share(rig, 'U0ASKER');
    const [answered] = await rig.watched.waitForAnswers(1);
    assert.equal(answered?.surface, 'slack');
    assert.equal(answered?.messageKey, `${CHANNEL}:${tsOf(post)}`);
    assert.equal(answered?.resultIds.length, 6);
  });

  test('GIVEN reaction_added +1 through Bolt THEN it is stored with the answer and the hashed user; others are not', async () => {
    const ts = rig.watched.answers[0]!.messageKey.split(':')[1]!;
    const events = [
      reaction('U0FAN', 'tada', ts),
      reaction('U0FAN', '+1', ts, 'file'),
      reaction('U0FAN', '+1', '1.000001'), // not an answer
      reaction('U0FAN', '+1', ts),
      reaction('U0CRITIC', 'thumbsdown::skin-tone-3', ts),
    ];
    for (const e of events) assert.equal((await rig.signer.postEvent(e)).status, 200);
    const records = await rig.watched.waitForRecords(3);
    assert.deepEqual(
      records.map((r) => `${r.input.kind} ${r.input.messageKey} ${r.stored}`).sort(),
      [`down ${CHANNEL}:${ts} true`, `up ${CHANNEL}:1.000001 false`, `up ${CHANNEL}:${ts} true`].sort(),
      'tada and the reaction on a file never reach the recorder',
    );
    const salt = feedbackSalt(parseConfig({ LOOKALIKE_DATA_DIR: rig.dataDir }));
    const store = openSqliteFeedbackStore(feedbackPath(rig.dataDir), { readonly: true });
    try {
      const stored = await store.events(0);
      assert.deepEqual(stored.map((e) => [e.kind, e.userHash]).sort(), [
        ['down', hashUserId(salt, 'slack:T0TEST:U0CRITIC')],
        ['up', hashUserId(salt, 'slack:T0TEST:U0FAN')],
      ]);
      for (const e of stored) {
        assert.equal(e.requestId, rig.watched.answers[0]?.requestId);
        assert.deepEqual(e.resultIds, rig.watched.answers[0]?.resultIds);
      }
    } finally {
      await store.close();
    }
    const bytes = await databaseBytes(feedbackPath(rig.dataDir));
    for (const id of ['U0FAN', 'U0CRITIC', 'U0ASKER'])
      assert.equal(bytes.includes(id), false, `${id} is not in the file`);
  });
});

describe('Slack feedback off', () => {
  test('GIVEN LOOKALIKE_FEEDBACK=off THEN an answer and a +1 on it record nothing and no file is created', async () => {
    const rig = await startRig('off', { LOOKALIKE_FEEDBACK: 'off' });
    try {
      assert.equal(rig.feedback.recorder.enabled, false);
      const post = await share(rig, 'U0ASKER');
      assert.equal((await rig.signer.postEvent(reaction('U0FAN', '+1', tsOf(post)))).status, 200);
      // A second share's answer arrives after the reaction was handled: nothing is recorded meanwhile.
      await share(rig, 'U0ASKER');
      assert.equal(rig.watched.answers.length, 0, 'the bot skips answered() when feedback is off');
      assert.equal(rig.watched.records.length, 0, 'the reaction never reaches the recorder');
      assert.equal(existsSync(join(rig.dataDir, FEEDBACK_FILE)), false);
    } finally {
      await rig.close();
    }
  });
});
