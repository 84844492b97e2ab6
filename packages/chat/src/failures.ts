/**
 * How a chat adapter reports a failed request: one log line at the level the code deserves,
 * then the code's sentence where the person will see it.
 */
import { asLookalikeError, type Logger, type LookalikeError } from '@lookalike/core';

export interface LogFailureOptions {
  /** Turns the error into what is logged (Discord drops REST request bodies). @defaultValue the error */
  serializeError?: (err: unknown) => unknown;
}

/**
 * Logs a failure: `info` for user-facing codes (the person was told, nothing is broken),
 * `error` for internal ones (an operator should look).
 */
export function logFailure(log: Logger, err: LookalikeError, message: string, options: LogFailureOptions = {}): void {
  if (err.isUserFacing) log.info({ code: err.code, reason: err.message }, message);
  else log.error({ err: options.serializeError?.(err) ?? err, code: err.code }, message);
}

export interface ReportFailureOptions extends LogFailureOptions {
  log: Logger;
  /** Posts the sentence where the person will see it (thread, reply, ephemeral message…). */
  post(text: string): Promise<unknown>;
  /** The log message. @defaultValue 'request failed' */
  message?: string;
  /** Maps what was thrown to a LookalikeError (Slack turns `not_in_channel` into a hint). @defaultValue asLookalikeError */
  toError?: (err: unknown) => LookalikeError;
}

/**
 * Logs `err` (see {@link logFailure}) and posts its `userMessage`. A failing post is logged at
 * `warn`, never thrown.
 * @returns the error as a LookalikeError, so callers can branch on its code
 */
export async function reportFailure(err: unknown, options: ReportFailureOptions): Promise<LookalikeError> {
  const e = (options.toError ?? asLookalikeError)(err);
  logFailure(options.log, e, options.message ?? 'request failed', options);
  try {
    await options.post(e.userMessage);
  } catch (postErr) {
    options.log.warn({ err: options.serializeError?.(postErr) ?? postErr }, 'could not post the error message');
  }
  return e;
}
