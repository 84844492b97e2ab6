/**
 * The product's configuration. This is the only module that reads `process.env`.
 * It is parsed once at start-up with one zod schema; an invalid configuration names
 * every bad variable (never its value) and the process exits before anything starts.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { LookalikeError } from './errors.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits } from './media.js';
import type { ServiceSettings } from './service.js';

/** Discord's attachment CDN hosts and Slack's file host. */
export const DEFAULT_ATTACHMENT_HOSTS = ['cdn.discordapp.com', 'media.discordapp.net', 'files.slack.com'] as const;

const list = z
  .string()
  .optional()
  .transform((s) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );
const optionalString = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s.trim() === '' ? undefined : s.trim()));
const bool = (def: boolean) =>
  z
    .enum(['1', '0', 'true', 'false', 'on', 'off', 'yes', 'no', ''])
    .optional()
    .transform((v) => (v === undefined || v === '' ? def : ['1', 'true', 'on', 'yes'].includes(v)));
const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const num = (def: number, min: number, max: number) => z.coerce.number().min(min).max(max).default(def);
const url = optionalString.pipe(z.url().optional());

/**
 * The vector index kinds (LOOKALIKE_INDEX): exact `flat` (the default), approximate `hnsw`, and
 * `flat-sq8` (8-bit codes, a quarter of the memory, the top candidates re-ranked exactly with the
 * catalog store's fp32 vectors; embedded catalog only). Mirrors `IndexKind` of @lookalike/index,
 * which core cannot import.
 */
export const INDEX_KINDS = ['flat', 'hnsw', 'flat-sq8'] as const;
/** `field=column,field=column` (LOOKALIKE_FEED_MAP): the feed field names are checked by the catalog. */
const feedMap = z
  .string()
  .optional()
  .transform((s, ctx) => {
    const map: Record<string, string> = {};
    for (const entry of (s ?? '').split(',').map((x) => x.trim())) {
      if (entry === '') continue;
      const eq = entry.indexOf('=');
      const field = entry.slice(0, eq).trim();
      const column = entry.slice(eq + 1).trim();
      if (eq < 1 || field === '' || column === '') {
        ctx.addIssue({ code: 'custom', message: 'entries must read field=column, separated by commas' });
        return z.NEVER;
      }
      map[field] = column;
    }
    return map;
  });

/** Every environment variable the product reads. `.env.example` documents each one. */
export const configSchema = z.object({
  LOOKALIKE_MODELS_DIR: z.string().default('models'),
  LOOKALIKE_DATA_DIR: z.string().default('data'),
  LOOKALIKE_CATALOG_DIR: optionalString,
  LOOKALIKE_LABELS: optionalString,
  LOOKALIKE_RUNTIME: z.enum(['onnx', 'tfjs']).default('onnx'),
  LOOKALIKE_PRECISION: z.enum(['fp32', 'int8']).default('fp32'),
  LOOKALIKE_RESIZE: z.enum(['stretch', 'pad']).default('stretch'),
  LOOKALIKE_EXIF: bool(true),
  LOOKALIKE_THREADS: int(0, 0, 256),
  LOOKALIKE_BATCH_SIZE: int(8, 1, 256),
  LOOKALIKE_BATCH_SLICE: int(4, 1, 256),
  LOOKALIKE_EMBED_WORKERS: int(1, 1, 64),
  LOOKALIKE_INDEX: z.enum(INDEX_KINDS).default('flat'),
  LOOKALIKE_HNSW_EF_SEARCH: int(96, 1, 4096),
  LOOKALIKE_MAX_PIXELS: int(DEFAULT_IMAGE_LIMITS.maxPixels, 1, 1_000_000_000),
  LOOKALIKE_MAX_BYTES: int(DEFAULT_IMAGE_LIMITS.maxBytes, 1, 1024 * 1024 * 1024),
  LOOKALIKE_RATE_PER_MINUTE: int(5, 1, 10_000),
  LOOKALIKE_PAGE_RATE_PER_MINUTE: int(60, 1, 100_000),
  LOOKALIKE_QUEUE_MAX: int(16, 1, 10_000),
  LOOKALIKE_FAR_DISTANCE: num(0.5, 0, 4),
  LOOKALIKE_FETCH_TIMEOUT_MS: int(15_000, 100, 600_000),
  LOOKALIKE_FETCH_CONNECT_TIMEOUT_MS: int(5_000, 50, 600_000),
  LOOKALIKE_FETCH_ALLOW_PRIVATE: bool(false),
  LOOKALIKE_FEED: optionalString,
  LOOKALIKE_FEED_FORMAT: optionalString.pipe(z.enum(['csv', 'tsv', 'json', 'jsonl', 'xml']).optional()),
  LOOKALIKE_FEED_MAP: optionalString.pipe(feedMap),
  FEED_HOSTS: list,
  LOOKALIKE_INCLUDE_OUT_OF_STOCK: bool(false),
  LOOKALIKE_FEED_CONCURRENCY: int(4, 1, 64),
  LOOKALIKE_PUBLIC_HOSTS: list,
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  HOST: z.string().default('127.0.0.1'),
  PORT: int(3000, 0, 65535),
  LOCAL_PAGE: z
    .enum(['on', 'off'])
    .default('on')
    .transform((v) => v === 'on'),
  ATTACHMENT_HOSTS: list.transform((hosts) => (hosts.length > 0 ? hosts : [...DEFAULT_ATTACHMENT_HOSTS])),
  DISCORD_TOKEN: optionalString,
  DISCORD_APP_ID: optionalString,
  DISCORD_WATCH_CHANNELS: list,
  DISCORD_ADMIN_ROLE_IDS: list,
  DISCORD_API_BASE: url,
  DISCORD_ATTACH_IMAGES: bool(false),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_APP_TOKEN: optionalString,
  SLACK_ADMIN_USER_IDS: list,
  SLACK_API_URL: url,
  DISCORD_SHARD_COUNT: optionalString.pipe(
    z
      .string()
      .regex(/^[1-9][0-9]{0,3}$/, 'a whole number from 1 to 4096')
      .transform(Number)
      .refine((n) => n <= 4096, 'at most 4096')
      .optional(),
  ),
  DISCORD_SHARD_IDS: list,
  DATABASE_URL: optionalString,
  REDIS_URL: optionalString,
  LOOKALIKE_CATALOG_NAME: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, ".", "_" or "-", at most 63')
      .default('default'),
  ),
  LOOKALIKE_WORKER_CONCURRENCY: optionalString.pipe(
    z
      .string()
      .regex(/^[1-9][0-9]{0,3}$/, 'a whole number from 1 to 1024')
      .transform(Number)
      .refine((n) => n <= 1024, 'at most 1024')
      .optional(),
  ),
  LOOKALIKE_JOB_ATTEMPTS: int(3, 1, 100),
  LOOKALIKE_JOB_LOCK_MS: int(30_000, 1_000, 3_600_000),
  LOOKALIKE_REINDEX_LEASE_MS: int(15_000, 1_000, 3_600_000),
  LOOKALIKE_NO_WORKER_TIMEOUT_MS: int(10_000, 100, 3_600_000),
  LOOKALIKE_FEEDBACK: z.enum(['on', 'off']).default('on'),
  LOOKALIKE_FEEDBACK_SALT: optionalString.pipe(z.string().min(16, 'at least 16 characters').optional()),
});

type RawConfig = z.output<typeof configSchema>;

/** The parsed, frozen configuration. */
export interface Config {
  modelsDir: string;
  dataDir: string;
  catalog: { imagesDir: string | undefined; labelsPath: string | undefined };
  embedder: {
    runtime: 'onnx' | 'tfjs';
    /** `int8`: the model `lookalike models quantize` wrote (onnx only; a different catalog model). */
    precision: 'fp32' | 'int8';
    resize: 'stretch' | 'pad';
    exif: boolean;
    /** 0 = one per core. */
    threads: number;
    batchSize: number;
    /** Catalog images per inference call: a query waits for at most one slice in flight. */
    batchSliceSize: number;
    /** Inference worker threads (each with threads ÷ workers intra-op threads). */
    workers: number;
  };
  /** Limits every image is held to: uploads, downloads, catalog files. */
  image: ImageLimits;
  index: { kind: (typeof INDEX_KINDS)[number]; efSearch: number };
  limits: {
    /** Chat users' queries per user per minute. */
    ratePerMinute: number;
    /** Local page and API queries per client per minute (its own budget, not the chat users'). */
    pageRatePerMinute: number;
    queueMax: number;
    farDistance: number;
  };
  fetch: {
    timeoutMs: number;
    connectTimeoutMs: number;
    allowedHosts: string[];
    /**
     * Opt-in for self-hosted sources and tests: fetch from loopback, private, link-local … addresses
     * and send tokens over plain http. Off by default.
     */
    allowPrivate: boolean;
  };
  /**
   * A product feed as the catalog (instead of a folder of images): Google Merchant TSV/CSV/XML,
   * JSON/JSONL or a Shopify export, read from a file or an http(s) URL.
   */
  feed: {
    /** LOOKALIKE_FEED: a file path (made absolute) or an http(s) URL; undefined: no feed. */
    source: string | undefined;
    /** @defaultValue detected from the feed's first bytes and name */
    format: 'csv' | 'tsv' | 'json' | 'jsonl' | 'xml' | undefined;
    /** Extra column names per feed field (`imageUrl` → "Picture URL"). */
    map: Record<string, string>;
    /** Hosts product images may come from; 'any-public': any host with a public address (FEED_HOSTS unset). */
    hosts: string[] | 'any-public';
    /** Answer with out-of-stock products too. @defaultValue false */
    includeOutOfStock: boolean;
    /** Image downloads in flight per host. @defaultValue 4 */
    concurrency: number;
  };
  /**
   * The scale-out engines: PostgreSQL for the shared catalog (`DATABASE_URL`), Redis for the
   * job queue and the state replicas share (`REDIS_URL`). Undefined: the embedded default.
   */
  scale: {
    databaseUrl: string | undefined;
    redisUrl: string | undefined;
    /** The catalog's name in PostgreSQL (several catalogs may share one database). */
    catalogName: string;
    worker: {
      /** Embedding jobs a `lookalike worker` runs at once (the embedder batches them). */
      concurrency: number;
      /** BullMQ attempts per job before the item is recorded as failed. */
      attempts: number;
      /** BullMQ lock per active job: a killed worker's jobs go to another after this long. */
      lockMs: number;
    };
    /** The reindex lease's ttl: a killed coordinator's run can be resumed this long after. */
    leaseMs: number;
    /** The coordinator says REINDEX_NO_WORKERS when no worker was seen this long while jobs wait. */
    noWorkerTimeoutMs: number;
  };
  /**
   * 👍/👎 reactions and "more like this" presses on the bots' answers, stored with a salted hash
   * of the user id (never the id). `salt` undefined: a random one kept in the data dir.
   */
  feedback: { enabled: boolean; salt: string | undefined };
  logLevel: RawConfig['LOG_LEVEL'];
  http: {
    host: string;
    port: number;
    localPage: boolean;
    /** Host names (beyond HOST, localhost, 127.0.0.1, [::1]) the page and API answer to. */
    publicHosts: string[];
  };
  discord:
    | {
        token: string;
        appId: string | undefined;
        watchChannels: string[];
        adminRoleIds: string[];
        apiBase: string | undefined;
        attachImages: boolean;
        /**
         * The gateway shards this process owns: `ids` of `count` (discord.js `shards`/`shardCount`).
         * Undefined: one process owns every shard (discord.js decides the count).
         */
        shards: { count: number; ids: number[] } | undefined;
      }
    | undefined;
  slack:
    | {
        botToken: string;
        signingSecret: string | undefined;
        appToken: string | undefined;
        adminUserIds: string[];
        apiUrl: string | undefined;
      }
    | undefined;
}

/** Command-line overrides that win over the environment. */
export interface ConfigOverrides {
  modelsDir?: string | undefined;
  dataDir?: string | undefined;
}

/**
 * Parses an environment object. Pure: tests pass their own object.
 * @throws LookalikeError CONFIG_INVALID, with `details.variables` naming every bad variable.
 */
export function parseConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: ConfigOverrides = {},
): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const variables = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? '?')))];
    throw new LookalikeError('CONFIG_INVALID', `Invalid configuration: ${variables.join(', ')}`, {
      details: { variables, problems: parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`) },
    });
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.SLACK_BOT_TOKEN !== undefined && c.SLACK_SIGNING_SECRET === undefined && c.SLACK_APP_TOKEN === undefined) {
    problems.push('SLACK_SIGNING_SECRET: required for HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)');
  }
  const shardIds = c.DISCORD_SHARD_IDS.map((id) => Number(id));
  if (shardIds.length > 0 && c.DISCORD_SHARD_COUNT === undefined) {
    problems.push('DISCORD_SHARD_IDS: needs DISCORD_SHARD_COUNT');
  }
  if (shardIds.some((id) => !Number.isInteger(id) || id < 0 || id >= (c.DISCORD_SHARD_COUNT ?? 1))) {
    problems.push('DISCORD_SHARD_IDS: every id must be a whole number below DISCORD_SHARD_COUNT');
  }
  if (c.LOOKALIKE_FEED !== undefined && c.DATABASE_URL !== undefined) {
    problems.push('LOOKALIKE_FEED: feed catalogs live in the embedded catalog for now; unset DATABASE_URL to use one');
  }
  if (c.LOOKALIKE_INDEX === 'flat-sq8' && c.DATABASE_URL !== undefined) {
    problems.push(
      'LOOKALIKE_INDEX: flat-sq8 re-ranks with the fp32 vectors of the embedded catalog, which PostgreSQL replicas do not hold; use flat or hnsw with DATABASE_URL',
    );
  }
  for (const [name, value, schemes] of [
    ['DATABASE_URL', c.DATABASE_URL, ['postgres:', 'postgresql:']],
    ['REDIS_URL', c.REDIS_URL, ['redis:', 'rediss:']],
  ] as const) {
    if (value !== undefined && !URL.canParse(value)) problems.push(`${name}: not a URL`);
    else if (value !== undefined && !(schemes as readonly string[]).includes(new URL(value).protocol)) {
      problems.push(`${name}: must start with ${schemes.map((s) => `${s}//`).join(' or ')}`);
    }
  }
  if (problems.length > 0) {
    const variables = problems.map((p) => p.split(':')[0] ?? p);
    throw new LookalikeError('CONFIG_INVALID', `Invalid configuration: ${variables.join(', ')}`, {
      details: { variables, problems },
    });
  }
  const config: Config = {
    modelsDir: resolve(overrides.modelsDir ?? c.LOOKALIKE_MODELS_DIR),
    dataDir: resolve(overrides.dataDir ?? c.LOOKALIKE_DATA_DIR),
    catalog: {
      imagesDir: c.LOOKALIKE_CATALOG_DIR === undefined ? undefined : resolve(c.LOOKALIKE_CATALOG_DIR),
      labelsPath: c.LOOKALIKE_LABELS === undefined ? undefined : resolve(c.LOOKALIKE_LABELS),
    },
    embedder: {
      runtime: c.LOOKALIKE_RUNTIME,
      precision: c.LOOKALIKE_PRECISION,
      resize: c.LOOKALIKE_RESIZE,
      exif: c.LOOKALIKE_EXIF,
      threads: c.LOOKALIKE_THREADS,
      batchSize: c.LOOKALIKE_BATCH_SIZE,
      batchSliceSize: Math.min(c.LOOKALIKE_BATCH_SLICE, c.LOOKALIKE_BATCH_SIZE),
      workers: c.LOOKALIKE_EMBED_WORKERS,
    },
    image: { maxBytes: c.LOOKALIKE_MAX_BYTES, maxPixels: c.LOOKALIKE_MAX_PIXELS },
    index: { kind: c.LOOKALIKE_INDEX, efSearch: c.LOOKALIKE_HNSW_EF_SEARCH },
    limits: {
      ratePerMinute: c.LOOKALIKE_RATE_PER_MINUTE,
      pageRatePerMinute: c.LOOKALIKE_PAGE_RATE_PER_MINUTE,
      queueMax: c.LOOKALIKE_QUEUE_MAX,
      farDistance: c.LOOKALIKE_FAR_DISTANCE,
    },
    fetch: {
      timeoutMs: c.LOOKALIKE_FETCH_TIMEOUT_MS,
      connectTimeoutMs: c.LOOKALIKE_FETCH_CONNECT_TIMEOUT_MS,
      allowedHosts: c.ATTACHMENT_HOSTS,
      allowPrivate: c.LOOKALIKE_FETCH_ALLOW_PRIVATE,
    },
    feed: {
      source:
        c.LOOKALIKE_FEED === undefined || /^https?:\/\//i.test(c.LOOKALIKE_FEED)
          ? c.LOOKALIKE_FEED
          : resolve(c.LOOKALIKE_FEED),
      format: c.LOOKALIKE_FEED_FORMAT,
      map: c.LOOKALIKE_FEED_MAP,
      hosts: c.FEED_HOSTS.length > 0 ? c.FEED_HOSTS : 'any-public',
      includeOutOfStock: c.LOOKALIKE_INCLUDE_OUT_OF_STOCK,
      concurrency: c.LOOKALIKE_FEED_CONCURRENCY,
    },
    scale: {
      databaseUrl: c.DATABASE_URL,
      redisUrl: c.REDIS_URL,
      catalogName: c.LOOKALIKE_CATALOG_NAME,
      worker: {
        concurrency: c.LOOKALIKE_WORKER_CONCURRENCY ?? 2 * c.LOOKALIKE_BATCH_SIZE,
        attempts: c.LOOKALIKE_JOB_ATTEMPTS,
        lockMs: c.LOOKALIKE_JOB_LOCK_MS,
      },
      leaseMs: c.LOOKALIKE_REINDEX_LEASE_MS,
      noWorkerTimeoutMs: c.LOOKALIKE_NO_WORKER_TIMEOUT_MS,
    },
    feedback: { enabled: c.LOOKALIKE_FEEDBACK === 'on', salt: c.LOOKALIKE_FEEDBACK_SALT },
    logLevel: c.LOG_LEVEL,
    http: { host: c.HOST, port: c.PORT, localPage: c.LOCAL_PAGE, publicHosts: c.LOOKALIKE_PUBLIC_HOSTS },
    discord:
      c.DISCORD_TOKEN === undefined
        ? undefined
        : {
            token: c.DISCORD_TOKEN,
            appId: c.DISCORD_APP_ID,
            watchChannels: c.DISCORD_WATCH_CHANNELS,
            adminRoleIds: c.DISCORD_ADMIN_ROLE_IDS,
            apiBase: c.DISCORD_API_BASE,
            attachImages: c.DISCORD_ATTACH_IMAGES,
            shards:
              c.DISCORD_SHARD_COUNT === undefined
                ? undefined
                : {
                    count: c.DISCORD_SHARD_COUNT,
                    ids:
                      shardIds.length > 0
                        ? [...new Set(shardIds)].sort((a, b) => a - b)
                        : allShards(c.DISCORD_SHARD_COUNT),
                  },
          },
    slack:
      c.SLACK_BOT_TOKEN === undefined
        ? undefined
        : {
            botToken: c.SLACK_BOT_TOKEN,
            signingSecret: c.SLACK_SIGNING_SECRET,
            appToken: c.SLACK_APP_TOKEN,
            adminUserIds: c.SLACK_ADMIN_USER_IDS,
            apiUrl: c.SLACK_API_URL,
          },
  };
  return deepFreeze(config);
}

/**
 * Reads `.env` (when present in the working directory) and the process environment once.
 * Variables already set in the environment win over `.env`.
 * @throws LookalikeError CONFIG_INVALID
 */
export function loadConfig(overrides: ConfigOverrides = {}, envFile = '.env'): Config {
  const path = resolve(envFile);
  if (existsSync(path)) process.loadEnvFile(path);
  return parseConfig(process.env, overrides);
}

function allShards(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * For process entry points: `loadConfig`, but an invalid configuration is reported on `stderr`
 * (every bad variable by name, never its value) and `undefined` comes back, so the caller can
 * exit with status 78 before anything starts. Other errors are thrown.
 */
export function loadConfigOrReport(
  app: string,
  overrides: ConfigOverrides = {},
  stderr: NodeJS.WritableStream = process.stderr,
): Config | undefined {
  try {
    return loadConfig(overrides);
  } catch (err) {
    if (!(err instanceof LookalikeError) || err.code !== 'CONFIG_INVALID') throw err;
    const problems = (err.details.problems as string[] | undefined) ?? [];
    stderr.write(
      `${app}: invalid configuration. Fix these variables:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    return undefined;
  }
}

/** Results per answer when the caller names no k, and the most a caller may ask for. */
export const DEFAULT_K = 6;
export const MAX_K = 10;

/**
 * The service's numbers, from the parsed config. `concurrency`: the embedder coalesces concurrent
 * queries into batches, so two batches' worth in flight keeps it busy; the rest wait in the queue.
 */
export function serviceSettingsFrom(config: Config): ServiceSettings {
  return {
    ratePerMinute: config.limits.ratePerMinute,
    pageRatePerMinute: config.limits.pageRatePerMinute,
    queueMax: config.limits.queueMax,
    concurrency: 2 * config.embedder.batchSize,
    farDistance: config.limits.farDistance,
    image: config.image,
    maxK: MAX_K,
    defaultK: DEFAULT_K,
  };
}
