/**
 * The Slack adapter's pure parts: /similar argument parsing, mrkdwn escaping, token redaction
 * in Bolt's logs, and the de-duplication set.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type Answer,
  indexingNotice,
  type Logger,
  type ReindexProgress,
  UNTRAINED_TEXT,
  untrainedNotice,
} from '@lookalike/core';
import {
  escapeMrkdwn,
  parseSimilarArgs,
  redactTokens,
  renderAnswer,
  renderNotices,
  TtlSet,
  toSlackLogger,
} from '@lookalike/slack';

const indexingProgress: ReindexProgress = {
  phase: 'embedding',
  done: 2104,
  total: 44441,
  rate: 12,
  etaSeconds: 3500,
  startedAt: 0,
  searchable: 2104,
  expected: 44441,
};

const facets = {
  genders: ['Men', 'Women', 'Boys', 'Girls', 'Unisex'],
  articleTypes: ['Tshirts', 'Shirts', 'Casual Shoes', 'Handbags'],
};

test('GIVEN "/similar women shirts" THEN gender and articleType filters use the catalog spelling', () => {
  assert.deepEqual(parseSimilarArgs('women shirts', facets), {
    filters: { gender: 'Women', articleType: 'Shirts' },
    unknown: [],
  });
  assert.deepEqual(parseSimilarArgs('Man t-shirt', facets).filters, { gender: 'Men', articleType: 'Tshirts' });
});

test('GIVEN key=value and quoted or multi-word categories THEN they are parsed', () => {
  assert.deepEqual(parseSimilarArgs('gender=Women category=Handbags', facets).filters, {
    gender: 'Women',
    articleType: 'Handbags',
  });
  assert.deepEqual(parseSimilarArgs('category="casual shoes"', facets).filters, { articleType: 'Casual Shoes' });
  assert.deepEqual(parseSimilarArgs('casual shoes girls', facets).filters, {
    gender: 'Girls',
    articleType: 'Casual Shoes',
  });
});

test('GIVEN empty text THEN no filters; GIVEN unknown words THEN they are reported', () => {
  assert.deepEqual(parseSimilarArgs('  ', facets), { filters: {}, unknown: [] });
  assert.deepEqual(parseSimilarArgs('women spacesuits', facets), {
    filters: { gender: 'Women' },
    unknown: ['spacesuits'],
  });
  assert.deepEqual(parseSimilarArgs('colour=red', facets).unknown, ['colour=red']);
});

test('GIVEN catalog text with <, > and & THEN the Block Kit list escapes it', () => {
  assert.equal(escapeMrkdwn('<@U1> & <!channel>'), '&lt;@U1&gt; &amp; &lt;!channel&gt;');
  const answer: Answer = {
    requestId: 'r1',
    results: [
      {
        rank: 1,
        id: '1',
        path: '/x/1.jpg',
        distance: 0.1,
        similarity: 0.95,
        metadata: { productDisplayName: 'Tee <!here>', articleType: 'Tshirts', baseColour: 'Red' },
      },
    ],
    weights: { source: 'untrained', md5: 'x', untrained: true, description: 'ResNet50 UNTRAINED' },
    noCloseMatch: false,
    notices: [untrainedNotice()],
    collage: Buffer.alloc(0),
    images: async () => [],
  };
  const { text, blocks } = renderAnswer(answer);
  const json = JSON.stringify(blocks);
  assert.ok(!json.includes('<!here>'));
  assert.match(json, /\*1\. Tee &lt;!here&gt;\*\\nTshirts · Red · similarity 95%/);
  assert.match(json, /results are not meaningful/);
  // The fallback text (notifications) is mrkdwn as well: escaped too.
  assert.ok(!text.includes('<!here>'), text);
  assert.match(text, /1\. Tee &lt;!here&gt; — Tshirts · Red — 95%/);
});

test('GIVEN a feed title with <!channel> and a <url|text> link THEN neither the blocks nor the fallback text carry them', () => {
  const answer: Answer = {
    requestId: 'r2',
    results: [
      {
        rank: 1,
        id: 'p1',
        path: '/x/p1.jpg',
        distance: 0.1,
        similarity: 0.9,
        metadata: {
          title: 'Sale <!channel> <https://evil.example|Click me>',
          link: 'https://shop.example/p/1?a=1|2',
          price: '9.90 EUR',
          brand: '<@U999>',
        },
      },
    ],
    weights: { source: 'keras-official', md5: 'x', untrained: false, description: 'ResNet50' },
    noCloseMatch: false,
    notices: [],
    collage: Buffer.alloc(0),
    images: async () => [],
  };
  const { text, blocks } = renderAnswer(answer);
  for (const [what, s] of [
    ['blocks', JSON.stringify(blocks)],
    ['text', text],
  ] as const) {
    assert.ok(!s.includes('<!channel>'), `${what}: ${s}`);
    assert.ok(!s.includes('<https://evil.example'), `${what}: ${s}`);
    assert.ok(!s.includes('<@U999>'), `${what}: ${s}`);
  }
  assert.match(text, /1\. Sale &lt;!channel&gt; &lt;https:\/\/evil\.example\|Click me&gt;/);
});

test('GIVEN Bolt logs a token THEN the adapter redacts it before the product logger sees it', () => {
  const lines: { obj: unknown; msg: string | undefined }[] = [];
  const capture: Logger = {
    child: () => capture,
    trace: () => {},
    debug: (obj, msg) => lines.push({ obj, msg }),
    info: (obj, msg) => lines.push({ obj, msg }),
    warn: (obj, msg) => lines.push({ obj, msg }),
    error: (obj, msg) => lines.push({ obj, msg }),
    fatal: () => {},
  };
  const bolt = toSlackLogger(capture);
  bolt.debug('token', 'xoxb-123-456-abcDEF', { t: 'xapp-1-A1-99-ff' });
  bolt.error(new Error('failed with xoxb-9-9-zz'));
  const out = JSON.stringify(lines);
  assert.ok(!/xoxb-\d|xapp-\d/.test(out), out);
  assert.match(out, /xoxb-\[redacted\]/);
  assert.equal(redactTokens('Bearer xoxp-1-2-3'), 'Bearer xoxp-[redacted]');
});

test('GIVEN a key seen within the TTL THEN TtlSet refuses it; after expiry it is accepted again', () => {
  const seen = new TtlSet(1000, 3);
  assert.equal(seen.add('C1:1', 0), true);
  assert.equal(seen.add('C1:1', 500), false);
  assert.equal(seen.add('C1:1', 1500), true);
  for (const k of ['a', 'b', 'c', 'd']) seen.add(k, 1600);
  assert.ok(seen.size <= 3);
});

test('GIVEN typed notices THEN the list shows each one from its text, warnings marked as such', () => {
  const notices = [untrainedNotice(), indexingNotice(indexingProgress)];
  assert.deepEqual(renderNotices(notices), [
    `:warning: ${UNTRAINED_TEXT}`,
    ':information_source: Catalog still indexing: 2,104 of 44,441 items searchable so far.',
  ]);
});
