/**
 * apps/slack-bot/manifest.yaml parses and declares what the bot needs: the scopes, the event
 * subscriptions, both slash commands, the "Find similar" shortcut and interactivity, all aimed
 * at /slack/events.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse } from 'yaml';

interface Manifest {
  display_information: { name: string; description: string; long_description?: string };
  features: {
    bot_user: { display_name: string };
    slash_commands: { command: string; url: string; description: string }[];
    shortcuts: { name: string; type: string; callback_id: string; description: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { request_url: string; bot_events: string[] };
    interactivity: { is_enabled: boolean; request_url: string };
    socket_mode_enabled: boolean;
  };
}

const manifestUrl = new URL('../../apps/slack-bot/manifest.yaml', import.meta.url);

test('GIVEN the app manifest THEN it parses and declares scopes, events, commands, shortcut and interactivity', async () => {
  const m = parse(await readFile(manifestUrl, 'utf8')) as Manifest;
  assert.equal(m.display_information.name, 'Lookalike');
  assert.ok(m.features.bot_user.display_name.length > 0);
  // Slack rejects a long_description shorter than 175 characters.
  assert.ok((m.display_information.long_description ?? '').length >= 175);
  assert.deepEqual([...m.oauth_config.scopes.bot].sort(), [
    'app_mentions:read',
    'channels:history',
    'chat:write',
    'commands',
    'files:read',
    'files:write',
    'groups:history',
    'reactions:read',
    'users:read',
  ]);
  assert.deepEqual([...m.settings.event_subscriptions.bot_events].sort(), [
    'app_mention',
    'message.channels',
    'message.groups',
    'reaction_added',
  ]);
  assert.deepEqual(m.features.slash_commands.map((c) => c.command).sort(), ['/reindex', '/similar']);
  const shortcut = m.features.shortcuts.find((s) => s.callback_id === 'find_similar');
  assert.equal(shortcut?.type, 'message');
  assert.equal(shortcut?.name, 'Find similar');
  assert.equal(m.settings.interactivity.is_enabled, true);
  assert.equal(m.settings.socket_mode_enabled, false);
  const urls = [
    m.settings.event_subscriptions.request_url,
    m.settings.interactivity.request_url,
    ...m.features.slash_commands.map((c) => c.url),
  ];
  for (const u of urls) assert.match(u, /^https:\/\/YOUR-HOST\/slack\/events$/);
});
