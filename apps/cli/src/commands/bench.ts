/**
 * `lookalike bench search [--vectors 44441] [--queries 200] [--dim 2048] [--json]`
 * Every search path over the same clustered unit vectors, one query at a time, in one run (see
 * @lookalike/index benchSearch): p50/p99 per query, the ratio to the raw sgemv scan, recall@6.
 */
import { benchSearch, formatSearchBench } from '@lookalike/index';
import { defineCommand, usageError } from '../context.js';

const USAGE = 'bench search [--vectors 44441] [--queries 200] [--dim 2048] [--json]';

function intFlag(v: string | undefined, fallback: number, min: number, max: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'search benchmark: raw sgemv, FAISS flat, exact, flat-sq8, HNSW and sklearn side by side',
  usage: USAGE,
  subcommands: [
    {
      name: 'search',
      usage: USAGE,
      summary: 'p50/p99 per query, ratio to the raw sgemv scan and recall@6 of every search path, in one run',
    },
  ],
  options: {
    vectors: { type: 'string' },
    queries: { type: 'string' },
    dim: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, ctx) {
    if (positionals.length !== 1 || positionals[0] !== 'search')
      return usageError(ctx, USAGE, 'expected `bench search`');
    const vectors = intFlag(values.vectors, 44_441, 100, 10_000_000);
    const queries = intFlag(values.queries, 200, 1, 100_000);
    const dimension = intFlag(values.dim, 2048, 1, 65_536);
    if (vectors === undefined) return usageError(ctx, USAGE, '--vectors must be an integer from 100 to 10000000');
    if (queries === undefined) return usageError(ctx, USAGE, '--queries must be an integer from 1 to 100000');
    if (dimension === undefined) return usageError(ctx, USAGE, '--dim must be an integer from 1 to 65536');
    const report = await benchSearch({
      vectors,
      queries,
      dimension,
      progress: (m) => ctx.stderr.write(`bench search: ${m}\n`),
    });
    ctx.stdout.write(values.json === true ? `${JSON.stringify(report)}\n` : `${formatSearchBench(report)}\n`);
    return 0;
  },
});
