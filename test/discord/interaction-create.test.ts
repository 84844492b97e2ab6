/**
 * onInteractionCreate: each interaction reaches its listener by kind and command name, and
 * anything else is left alone. Plain-object interactions, a fake service: no gateway, no model.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputInteraction,
  COMMAND_NAMES,
  type IncomingInteraction,
  type MessageCommandInteraction,
  onInteractionCreate,
  REINDEX_CANCELLED_TEXT,
  reindexButtonId,
  renderSummary,
} from '@lookalike/discord';
import { fakeService, SUMMARY } from '../chat/fakes.js';
import { ADMIN_ROLE, attachments, build, buttonPress, channel, image, interaction, similar } from './listener-fakes.js';

type Kind = 'autocomplete' | 'chat' | 'message' | 'button' | 'other';

/** The type checks of a discord.js interaction, answering for one kind. */
function kindOf(kind: Kind): IncomingInteraction {
  return {
    isAutocomplete(): this is AutocompleteInteraction {
      return kind === 'autocomplete';
    },
    isChatInputCommand(): this is ChatInputInteraction {
      return kind === 'chat';
    },
    isMessageContextMenuCommand(): this is MessageCommandInteraction {
      return kind === 'message';
    },
    isButton(): this is ButtonInteraction {
      return kind === 'button';
    },
  };
}

/** A slash command named `commandName`, from an admin, with a photo attached. */
function slashCommand(commandName: string) {
  const { i, calls } = similar({ image: image(1) });
  const command: IncomingInteraction & ChatInputInteraction = {
    ...kindOf('chat'),
    ...i,
    commandName,
    memberPermissions: { has: () => false },
    member: { roles: [ADMIN_ROLE] },
    channel: channel(),
  };
  return { command, calls };
}

/** A message command named `commandName` on a message with a photo. */
function messageCommand(commandName: string) {
  const { base, calls } = interaction();
  const command: IncomingInteraction & MessageCommandInteraction = {
    ...kindOf('message'),
    ...base,
    commandName,
    targetMessage: { attachments: attachments([image(7)]) },
  };
  return { command, calls };
}

describe('onInteractionCreate', () => {
  test('GIVEN an autocomplete THEN the category choices are the response, and nothing is searched', async () => {
    const { deps, service } = build(fakeService({ facets: { genders: [], articleTypes: ['Shirts', 'Shoes'] } }));
    const responses: unknown[] = [];
    const ac: IncomingInteraction & AutocompleteInteraction = {
      ...kindOf('autocomplete'),
      id: 'ac-1',
      options: { getFocused: () => ({ name: 'category', value: 'shi' }) },
      async respond(choices) {
        responses.push(choices);
      },
    };
    await onInteractionCreate(ac, deps);
    assert.deepEqual(responses, [[{ name: 'Shirts', value: 'Shirts' }]]);
    assert.equal(service.calls.length, 0);
  });

  test('GIVEN /similar THEN the attached photo is searched and the deferred reply edited', async () => {
    const { deps, service } = build();
    const { command, calls } = slashCommand(COMMAND_NAMES.similar);
    await onInteractionCreate(command, deps);
    assert.deepEqual(
      service.calls.map((c) => c.image),
      [{ url: image(1).url }],
    );
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit'],
    );
    assert.equal(service.reindexCalls, 0);
  });

  test('GIVEN /reindex THEN the reindex runs and ends with its summary, and nothing is searched', async () => {
    const { deps, service } = build();
    const { command, calls } = slashCommand(COMMAND_NAMES.reindex);
    await onInteractionCreate(command, deps);
    assert.equal(service.reindexCalls, 1);
    assert.equal(service.calls.length, 0);
    assert.equal(calls.at(-1)?.body?.content, renderSummary(SUMMARY));
  });

  test('GIVEN "Find similar" THEN the target message’s photo is searched', async () => {
    const { deps, service } = build();
    const { command, calls } = messageCommand(COMMAND_NAMES.findSimilar);
    await onInteractionCreate(command, deps);
    assert.deepEqual(
      service.calls.map((c) => c.image),
      [{ url: image(7).url }],
    );
    assert.deepEqual(
      calls.map((c) => c.op),
      ['defer', 'edit'],
    );
  });

  test('GIVEN an unknown slash or message command, or another kind of interaction THEN it is left alone', async () => {
    const { deps, service } = build();
    const unknownSlash = slashCommand('dance');
    // A message command named like a slash command is still not one of ours.
    const unknownMessage = messageCommand(COMMAND_NAMES.similar);
    const other = interaction();
    const button: IncomingInteraction = { ...kindOf('other'), ...other.base };
    await onInteractionCreate(unknownSlash.command, deps);
    await onInteractionCreate(unknownMessage.command, deps);
    await onInteractionCreate(button, deps);
    assert.deepEqual(unknownSlash.calls, []);
    assert.deepEqual(unknownMessage.calls, []);
    assert.deepEqual(other.calls, []);
    assert.equal(service.calls.length, 0);
    assert.equal(service.reindexCalls, 0);
  });

  test('GIVEN a /reindex button THEN it reaches the confirmation listener; another button is left alone', async () => {
    const { deps, service } = build();
    const cancel = buttonPress(reindexButtonId('cancel', 'user-9'), 'user-9', { roles: [ADMIN_ROLE] });
    await onInteractionCreate({ ...kindOf('button'), ...cancel.i }, deps);
    assert.deepEqual(
      cancel.calls.map((c) => [c.op, c.body?.content]),
      [['update', REINDEX_CANCELLED_TEXT]],
    );
    const foreign = buttonPress('someone-else:vote:1', 'user-9', { roles: [ADMIN_ROLE] });
    await onInteractionCreate({ ...kindOf('button'), ...foreign.i }, deps);
    assert.deepEqual(foreign.calls, []);
    assert.equal(service.reindexCalls, 0);
  });
});
