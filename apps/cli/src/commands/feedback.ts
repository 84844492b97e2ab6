/**
 * `lookalike feedback [--since 7d] [--top 10] [--json]`: what people said about the bots' answers
 * (👍/👎 reactions, "more like this" presses): per surface the answers, votes and like rate, and
 * the results most up-voted, down-voted and pressed. Reads the data dir's feedback.sqlite, or
 * PostgreSQL with DATABASE_URL. Nothing in it names a person: users are stored as salted hashes.
 */
import type { FeedbackEvent, Surface } from '@lookalike/core';
import { openFeedbackStore } from '@lookalike/runtime';
import { defineCommand, usageError } from '../context.js';
import { formatFeedbackReport, parseSince, summarizeFeedback } from './feedback-report.js';

const USAGE = 'feedback [--since 7d] [--top 10] [--json]';

export const feedbackCommand = defineCommand({
  name: 'feedback',
  summary: 'report 👍/👎 and "more like this" on the bots\' answers: like rate per surface, top results',
  usage: USAGE,
  options: {
    since: { type: 'string', default: '7d' },
    top: { type: 'string', default: '10' },
    json: { type: 'boolean' },
  },
  allowPositionals: false,
  async run({ values }, ctx) {
    const sinceMs = parseSince(values.since, Date.now());
    if (sinceMs === undefined) {
      return usageError(
        ctx,
        USAGE,
        `--since expects a duration (30m, 24h, 7d, 2w), "all" or a date, not "${values.since}"`,
      );
    }
    if (!/^[1-9]\d{0,3}$/.test(values.top))
      return usageError(ctx, USAGE, '--top expects a whole number from 1 to 9999');
    if (!ctx.config.feedback.enabled) {
      ctx.stderr.write('LOOKALIKE_FEEDBACK=off: nothing new is recorded; showing what was stored before.\n');
    }
    const store = await openFeedbackStore(ctx.config, ctx.logger, { readonly: true });
    let events: FeedbackEvent[] = [];
    let counts: Partial<Record<Surface, number>> = {};
    if (store !== undefined) {
      try {
        [events, counts] = await Promise.all([store.events(sinceMs), store.answerCounts(sinceMs)]);
      } finally {
        await store.close();
      }
    }
    const report = summarizeFeedback(events, counts, { sinceMs, top: Number(values.top) });
    ctx.stdout.write(
      values.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatFeedbackReport(report, values.since),
    );
    return 0;
  },
});
