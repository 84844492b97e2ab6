/**
 * The `lookalike feedback` report, from stored events: per surface the answers posted, 👍, 👎,
 * "more like this" presses and the like rate (👍 ÷ (👍 + 👎)); and the results most up-voted,
 * most down-voted and most pressed. A vote is on an answer, so it counts for every result the
 * answer showed; a press counts for the pressed result only.
 */
import { type FeedbackEvent, type Surface, terminalSafe } from '@lookalike/core';

export interface SurfaceFeedback {
  surface: Surface | 'all';
  answers: number;
  up: number;
  down: number;
  more: number;
  /** up ÷ (up + down), 0–1; null without votes. */
  likeRate: number | null;
}

export interface ResultFeedback {
  itemId: string;
  up: number;
  down: number;
  more: number;
}

export interface FeedbackReport {
  /** ISO time the report starts at. */
  since: string;
  surfaces: SurfaceFeedback[];
  total: SurfaceFeedback;
  mostUpVoted: ResultFeedback[];
  mostDownVoted: ResultFeedback[];
  mostPressed: ResultFeedback[];
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * `--since`: a duration back from `now` ("30m", "24h", "7d", "2w"), "all", or an ISO date.
 * Undefined when it is none of those.
 */
export function parseSince(text: string, now: number): number | undefined {
  const t = text.trim();
  if (t === 'all') return 0;
  const m = /^(\d{1,6})([mhdw])$/.exec(t);
  if (m !== null) return now - Number(m[1]) * UNITS[m[2]!]!;
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const at = Date.parse(t);
  return Number.isNaN(at) ? undefined : at;
}

const rate = (up: number, down: number) => (up + down === 0 ? null : up / (up + down));

/** Sums the events (already filtered to the window) into the report. */
export function summarizeFeedback(
  events: readonly FeedbackEvent[],
  answerCounts: Partial<Record<Surface, number>>,
  options: { sinceMs: number; top: number },
): FeedbackReport {
  const bySurface = new Map<Surface, SurfaceFeedback>();
  const surface = (s: Surface) => {
    let row = bySurface.get(s);
    if (row === undefined) {
      row = { surface: s, answers: answerCounts[s] ?? 0, up: 0, down: 0, more: 0, likeRate: null };
      bySurface.set(s, row);
    }
    return row;
  };
  for (const s of Object.keys(answerCounts) as Surface[]) surface(s);
  const byItem = new Map<string, ResultFeedback>();
  const item = (id: string) => {
    let row = byItem.get(id);
    if (row === undefined) {
      row = { itemId: id, up: 0, down: 0, more: 0 };
      byItem.set(id, row);
    }
    return row;
  };
  for (const e of events) {
    surface(e.surface)[e.kind] += 1;
    if (e.kind === 'more') {
      if (e.itemId !== undefined) item(e.itemId).more += 1;
    } else {
      for (const id of new Set(e.resultIds)) item(id)[e.kind] += 1;
    }
  }
  const surfaces = [...bySurface.values()]
    .map((s) => ({ ...s, likeRate: rate(s.up, s.down) }))
    .sort((a, b) => a.surface.localeCompare(b.surface));
  const sum = (k: 'answers' | 'up' | 'down' | 'more') => surfaces.reduce((n, s) => n + s[k], 0);
  const total: SurfaceFeedback = {
    surface: 'all',
    answers: sum('answers'),
    up: sum('up'),
    down: sum('down'),
    more: sum('more'),
    likeRate: rate(sum('up'), sum('down')),
  };
  const items = [...byItem.values()];
  const ranked = (key: 'up' | 'down' | 'more', other: (r: ResultFeedback) => number) =>
    items
      .filter((r) => r[key] > 0)
      .sort((a, b) => b[key] - a[key] || other(a) - other(b) || a.itemId.localeCompare(b.itemId))
      .slice(0, options.top);
  return {
    since: new Date(options.sinceMs).toISOString(),
    surfaces,
    total,
    mostUpVoted: ranked('up', (r) => r.down),
    mostDownVoted: ranked('down', (r) => r.up),
    mostPressed: ranked('more', (r) => r.down - r.up),
  };
}

const pct = (r: number | null) => (r === null ? '-' : `${Math.round(r * 100)} %`);

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].map((l) => `  ${l.trimEnd()}`).join('\n');
}

/** The report as text for a terminal. */
export function formatFeedbackReport(report: FeedbackReport, sinceText: string): string {
  const out: string[] = [`Feedback since ${report.since} (${sinceText})`, ''];
  if (report.total.answers === 0 && report.total.up + report.total.down + report.total.more === 0) {
    out.push('No answers or feedback recorded in this period.');
    return `${out.join('\n')}\n`;
  }
  const row = (s: SurfaceFeedback) => [
    s.surface,
    String(s.answers),
    String(s.up),
    String(s.down),
    String(s.more),
    pct(s.likeRate),
  ];
  out.push(
    table(['surface', 'answers', 'up', 'down', 'more', 'like rate'], [...report.surfaces.map(row), row(report.total)]),
  );
  const results = (title: string, rows: ResultFeedback[]) => {
    out.push('', title);
    if (rows.length === 0) out.push('  (none)');
    else
      out.push(
        table(
          ['item', 'up', 'down', 'more'],
          rows.map((r) => [terminalSafe(r.itemId), String(r.up), String(r.down), String(r.more)]),
        ),
      );
  };
  results('Most up-voted results', report.mostUpVoted);
  results('Most down-voted results', report.mostDownVoted);
  results('Most "more like this" presses', report.mostPressed);
  return `${out.join('\n')}\n`;
}
