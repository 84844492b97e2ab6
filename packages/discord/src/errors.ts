/**
 * Discord failures as LookalikeErrors, and the compact form discord.js errors are logged in.
 */
import { LookalikeError } from '@lookalike/core';

/** Gateway close code for a privileged intent the app may not use. */
export const DISALLOWED_INTENTS = 4014;
const AUTHENTICATION_FAILED = 4004;

export const MESSAGE_CONTENT_HINT =
  'Discord refused the Message Content intent: enable it in the Developer Portal ' +
  '(your app → Bot → Privileged Gateway Intents → Message Content Intent)';

/** The error for a gateway session Discord closed for good. */
export function gatewayRefusal(code: number): LookalikeError {
  if (code === DISALLOWED_INTENTS)
    return new LookalikeError('PLATFORM_ERROR', MESSAGE_CONTENT_HINT, { details: { code } });
  if (code === AUTHENTICATION_FAILED) {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (gateway authentication failed)', {
      details: { code },
    });
  }
  return new LookalikeError('PLATFORM_ERROR', `Discord closed the gateway with code ${code}`, { details: { code } });
}

/** The error for a failed `client.login()`. */
export function loginError(err: unknown): LookalikeError {
  if (err instanceof LookalikeError) return err;
  if ((err as { code?: unknown } | null)?.code === 'TokenInvalid') {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (401 on GET /gateway/bot)', {
      cause: err,
    });
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/disallowed intents/i.test(text))
    return new LookalikeError('PLATFORM_ERROR', MESSAGE_CONTENT_HINT, { cause: err });
  if (/authentication failed/i.test(text)) {
    return new LookalikeError('PLATFORM_ERROR', 'Discord rejected DISCORD_TOKEN (gateway authentication failed)', {
      cause: err,
    });
  }
  return new LookalikeError('PLATFORM_ERROR', `Discord login failed: ${text}`, { cause: err });
}

/**
 * discord.js REST errors carry the whole request body (the collage bytes included): log a
 * compact form instead, keeping what helps (status, method, url, Discord's code and message).
 */
export function safeErr(err: unknown): unknown {
  if (err === null || typeof err !== 'object') return err;
  const e = err as {
    name?: string;
    message?: string;
    code?: unknown;
    status?: unknown;
    method?: unknown;
    url?: unknown;
    cause?: unknown;
    stack?: string;
  };
  if ('requestBody' in e) {
    return { type: e.name, message: e.message, code: e.code, status: e.status, method: e.method, url: e.url };
  }
  if (e.cause !== undefined && err instanceof Error) {
    return { type: e.name, message: e.message, code: e.code, stack: e.stack, cause: safeErr(e.cause) };
  }
  return err;
}
