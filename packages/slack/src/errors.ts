import { asLookalikeError, LookalikeError } from '@lookalike/core';

const NOT_IN_CHANNEL = 'I can’t see this channel. Invite me first (/invite @lookalike), then try again.';

/** Maps Slack Web API failures a person can fix to a friendly LookalikeError; the rest as usual. */
export function platformError(err: unknown): LookalikeError {
  const code = (err as { data?: { error?: unknown } } | null)?.data?.error;
  if (code === 'not_in_channel' || code === 'channel_not_found') {
    return new LookalikeError('PLATFORM_ERROR', `Slack API: ${code}`, { cause: err, userMessage: NOT_IN_CHANNEL });
  }
  return asLookalikeError(err);
}
