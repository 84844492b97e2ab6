/**
 * Socket Mode smoke test: the real Bolt App connects to the fake's apps.connections.open and
 * WebSocket, receives a file share envelope, acks it and answers in the thread.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileShareEvent, type SlackHarness, startSlackHarness } from './harness.js';

let h: SlackHarness;

before(async () => {
  h = await startSlackHarness({ socketMode: true });
});

after(async () => {
  await h?.close();
});

test('GIVEN Socket Mode WHEN a file share arrives over the socket THEN it is acked and answered in the thread', async () => {
  assert.equal(h.bot.mode, 'socket');
  assert.equal(h.bot.route, undefined, 'no HTTP route in Socket Mode');
  assert.ok(h.fake.socketConnected);
  const open = h.fake.callsTo('apps.connections.open');
  assert.equal(open.length, 1);
  assert.equal(open[0]?.headers.authorization, `Bearer ${h.fake.appToken}`);

  const file = h.fake.addFile({ name: 'sock.jpg', mimetype: 'image/jpeg', bytes: h.photo, user: 'U1' });
  const ev = fileShareEvent(h.fake, { channel: 'C0SOCK', user: 'U1', files: [file] });
  const from = h.fake.calls.length;
  await h.fake.sendEnvelope('events_api', h.signer.eventBody(ev));

  const list = await h.fake.waitFor((calls) =>
    calls.slice(from).find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ev.ts),
  );
  const sections = (list.args.blocks as { type: string; text?: { text: string } }[]).filter(
    (b) => b.type === 'section' && /^\*\d+\. /.test(b.text?.text ?? ''),
  );
  assert.equal(sections.length, 6);
  const methods = h.fake.calls.slice(from).map((c) => c.method);
  assert.equal(methods[0], 'socket_ack', 'acked before any work');
  const complete = h.fake.calls.slice(from).find((c) => c.method === 'files.completeUploadExternal');
  assert.equal(complete?.args.thread_ts, ev.ts);
});

test('GIVEN Socket Mode WHEN /similar finds no recent photo THEN the answer is ephemeral', async () => {
  const from = h.fake.calls.length;
  const body = h.signer.commandBody('/similar', { user: 'U2', channel: 'C0SOCK' });
  await h.fake.sendEnvelope('slash_commands', body);
  const reply = await h.fake.waitFor((calls) => calls.slice(from).find((c) => c.method === 'response_url'));
  assert.equal(reply.args.response_type, 'ephemeral');
});
