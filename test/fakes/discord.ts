/**
 * A loopback fake of Discord: REST (`/api/v10/...`), the gateway (WebSocket) and an attachment
 * file server, all on one 127.0.0.1 port. It drives the real discord.js Client.
 * Shapes and pitfalls follow /work/shared/docs/platform-fakes.md part A.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { listenOnLoopback } from '../helpers/net.js';

const DISCORD_EPOCH = 1420070400000n;
let snowflakeCounter = 0n;
/** A fresh snowflake id (timestamp-based, increasing). */
export function snowflake(): string {
  snowflakeCounter = (snowflakeCounter + 1n) & 0xfffn;
  return String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | snowflakeCounter);
}

/** The gateway shard that receives a guild's events, as on Discord: `(guild_id >> 22) % count`. */
export function shardOf(guildId: string, count: number): number {
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

/** A fresh snowflake whose guild routing lands on `shard` of `count` (its timestamp is moved ahead by < count ms). */
export function snowflakeOnShard(shard: number, count: number): string {
  const id = BigInt(snowflake());
  const ts = id >> 22n;
  const shift = (BigInt(shard) - (ts % BigInt(count)) + BigInt(count)) % BigInt(count);
  return String(((ts + shift) << 22n) | (id & 0x3fffffn));
}

/** One multipart form part. */
export interface RecordedPart {
  name: string;
  filename?: string;
  contentType?: string;
  bytes: Buffer;
}

/** One REST request the bot made. */
export interface RecordedRequest {
  /** Date.now() when the request was complete. */
  at: number;
  /** performance.now() when the request started arriving (for latency measurements). */
  startedAt: number;
  method: string;
  /** Decoded path below `/api/v10`, e.g. `/webhooks/1/tok/messages/@original`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** JSON body, or the parsed `payload_json` of a multipart body. */
  json: unknown;
  parts: RecordedPart[];
  /** The files of a multipart body (parts named `files[n]`). */
  files: RecordedPart[];
  status: number;
  /** What the fake answered (JSON payloads: e.g. the created message with its id). */
  response?: unknown;
}

export interface FakeAttachment {
  filename: string;
  contentType?: string;
  /** Served by the fake's file server. Give `bytes` or an explicit `url`. */
  bytes?: Buffer;
  url?: string;
}

export interface FakeDiscordOptions {
  token?: string;
  /** HELLO heartbeat interval. @defaultValue 41250 */
  heartbeatInterval?: number;
  /** Intent bits the app "may not use": IDENTIFY with any of them is closed with 4014. @defaultValue 0 */
  disallowedIntents?: number;
  /** The recommended shard count `GET /gateway/bot` answers. @defaultValue 1 */
  recommendedShards?: number;
  /** `session_start_limit.max_concurrency`: identifies allowed at once (one bucket per `id % n`). @defaultValue 1 */
  maxConcurrency?: number;
}

export interface GuildSpec {
  id: string;
  name: string;
  channels: { id: string; name: string }[];
  roles: { id: string; name: string; permissions: string }[];
}

interface Session {
  ws: WebSocket;
  sessionId: string;
  seq: number;
  intents: number;
  identified: boolean;
  /** `[id, count]` from IDENTIFY (`[0, 1]` when the client sent none). */
  shard: [number, number];
}

/** One IDENTIFY the fake accepted. */
export interface IdentifyRecord {
  sessionId: string;
  shard: [number, number];
  intents: number;
}

type Route = (req: IncomingMessage, path: string, body: Buffer, rec: RecordedRequest) => Promise<[number, unknown]>;

const INTENT_MESSAGE_CONTENT = 1 << 15;
const INTENT_GUILD_MESSAGES = 1 << 9;
const INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10;

/**
 * The fake. `await FakeDiscord.start()`, point the client at `apiBase`, then drive it with
 * `sendMessage` / `sendInteraction` and assert on `requests` / `waitFor`.
 */
export class FakeDiscord {
  readonly token: string;
  readonly appId = snowflake();
  readonly botUser: { id: string; username: string; bot: true; discriminator: string; global_name: null };
  readonly guild: GuildSpec;
  readonly requests: RecordedRequest[] = [];
  /** Gateway frames; `shard` is the session's `[id, count]` once identified. */
  readonly gatewayLog: { dir: 'in' | 'out'; op: number; t?: string | null; shard?: [number, number] }[] = [];
  /** Every guild the bot is in; `guild` is the first. Add more with `addGuild`. */
  readonly guilds: GuildSpec[] = [];
  /** Every accepted IDENTIFY, in order. */
  readonly identifies: IdentifyRecord[] = [];
  /** Intents of the last IDENTIFY. */
  lastIntents = 0;
  identifyCount = 0;
  resumeCount = 0;
  /** GETs of hosted files (the stand-in for Discord's CDN), found or not. */
  fileDownloads = 0;

  #server: Server;
  #wss: WebSocketServer;
  #sockets = new Set<Socket>();
  #sessions = new Set<Session>();
  /** The session state survives a disconnect so the client can RESUME it. */
  #resumable = new Map<string, { seq: number; intents: number; shard: [number, number] }>();
  #files = new Map<string, { bytes: Buffer; contentType: string }>();
  #waiters = new Set<() => void>();
  #failures = new Map<string, { status: number; count: number }>();
  #heartbeatInterval: number;
  #disallowedIntents: number;
  #recommendedShards: number;
  #maxConcurrency: number;
  #port = 0;

  private constructor(options: FakeDiscordOptions) {
    this.token = options.token ?? 'fake-bot-token';
    this.#heartbeatInterval = options.heartbeatInterval ?? 41250;
    this.#disallowedIntents = options.disallowedIntents ?? 0;
    this.#recommendedShards = options.recommendedShards ?? 1;
    this.#maxConcurrency = options.maxConcurrency ?? 1;
    this.botUser = { id: this.appId, username: 'lookalike', bot: true, discriminator: '0', global_name: null };
    this.guild = {
      id: snowflake(),
      name: 'Fake Guild',
      channels: [
        { id: snowflake(), name: 'outfits' },
        { id: snowflake(), name: 'general' },
      ],
      roles: [],
    };
    this.guild.roles.push({ id: this.guild.id, name: '@everyone', permissions: '1024' });
    this.guild.roles.push({ id: snowflake(), name: 'stylists', permissions: '1024' });
    this.guilds.push(this.guild);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err), code: 0 }));
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/gateway')) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onGateway(ws, req));
    });
  }

  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const fake = new FakeDiscord(options);
    fake.#port = await listenOnLoopback(fake.#server);
    return fake;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }
  /** The value for the client's `rest.api` / DISCORD_API_BASE. */
  get apiBase(): string {
    return `${this.origin}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.#port}/gateway`;
  }
  /** The first channel ("outfits"): tests watch it. */
  get watchedChannelId(): string {
    return this.guild.channels[0]!.id;
  }
  /** The second channel ("general"): tests leave it unwatched. */
  get otherChannelId(): string {
    return this.guild.channels[1]!.id;
  }
  get adminRoleId(): string {
    return this.guild.roles[1]!.id;
  }

  /**
   * Adds a guild (channels "outfits" and "general"), by default routed to `shard: [id, count]`.
   * Sessions already open on its shard get its GUILD_CREATE, as when a bot joins a guild.
   */
  addGuild(input: { name?: string; shard?: [number, number] } = {}): GuildSpec {
    const id = input.shard === undefined ? snowflake() : snowflakeOnShard(input.shard[0], input.shard[1]);
    const guild: GuildSpec = {
      id,
      name: input.name ?? `Fake Guild ${this.guilds.length + 1}`,
      channels: [
        { id: snowflake(), name: 'outfits' },
        { id: snowflake(), name: 'general' },
      ],
      roles: [{ id, name: '@everyone', permissions: '1024' }],
    };
    this.guilds.push(guild);
    for (const s of this.#sessions) {
      if (s.identified && this.#owns(s, guild.id)) this.#dispatch(s, 'GUILD_CREATE', this.#guildCreate(guild));
    }
    return guild;
  }

  /** The guild a channel belongs to (the first guild for an unknown channel, e.g. a DM). */
  guildOfChannel(channelId: string): GuildSpec {
    return this.guilds.find((g) => g.channels.some((c) => c.id === channelId)) ?? this.guild;
  }

  /** True when the session's shard receives the guild's events (`(guild_id >> 22) % count`). */
  #owns(session: Session, guildId: string): boolean {
    const [id, count] = session.shard;
    return shardOf(guildId, count) === id;
  }

  /** Serves bytes at a loopback URL (the stand-in for cdn.discordapp.com). */
  hostFile(filename: string, bytes: Buffer, contentType: string): string {
    const key = `${snowflake()}/${encodeURIComponent(filename)}`;
    this.#files.set(key, { bytes, contentType });
    return `${this.origin}/attachments/${key}`;
  }

  /** The next `count` requests whose `METHOD path` starts with the prefix get a 429 (Discord's shape). */
  failWith429(methodAndPathPrefix: string, count = 1): void {
    this.#failures.set(methodAndPathPrefix, { status: 429, count });
  }

  /** The next `count` requests whose `METHOD path` starts with the prefix get `status` (e.g. 500). */
  failWith(status: number, methodAndPathPrefix: string, count = 1): void {
    if (count <= 0) this.#failures.delete(methodAndPathPrefix);
    else this.#failures.set(methodAndPathPrefix, { status, count });
  }

  // ── REST ───────────────────────────────────────────────────────────────

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const url = new URL(req.url ?? '/', this.origin);
    const rawPath = url.pathname;
    if (req.method === 'GET' && rawPath.startsWith('/attachments/')) {
      this.fileDownloads += 1;
      const file = this.#files.get(rawPath.slice('/attachments/'.length));
      if (file === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': file.contentType, 'content-length': String(file.bytes.length) });
      res.end(file.bytes);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    // `@original` arrives URL-encoded as %40original: decode before routing.
    const path = decodeURIComponent(rawPath.replace(/^\/api\/v10/, ''));
    const rec: RecordedRequest = {
      at: Date.now(),
      startedAt,
      method: req.method ?? 'GET',
      path,
      query: url.searchParams,
      headers: req.headers,
      json: undefined,
      parts: [],
      files: [],
      status: 0,
    };
    const ct = req.headers['content-type'] ?? '';
    if (ct.startsWith('multipart/form-data')) {
      const form = await new Response(body, { headers: { 'content-type': ct } }).formData();
      for (const [name, value] of form.entries()) {
        if (typeof value === 'string') {
          rec.parts.push({ name, bytes: Buffer.from(value) });
          if (name === 'payload_json') rec.json = JSON.parse(value);
        } else {
          const part: RecordedPart = {
            name,
            filename: value.name,
            contentType: value.type,
            bytes: Buffer.from(await value.arrayBuffer()),
          };
          rec.parts.push(part);
          if (name.startsWith('files[')) rec.files.push(part);
        }
      }
    } else if (body.length > 0 && ct.includes('json')) {
      rec.json = JSON.parse(body.toString('utf8'));
    }

    let status: number;
    let payload: unknown;
    let headers: Record<string, string> = {};
    const failKey = [...this.#failures.keys()].find((k) => `${rec.method} ${path}`.startsWith(k));
    const failure = failKey === undefined ? undefined : this.#failures.get(failKey);
    if (failKey !== undefined && failure !== undefined) {
      failure.count -= 1;
      if (failure.count <= 0) this.#failures.delete(failKey);
    }
    if (failure !== undefined && failure.status !== 429) {
      [status, payload] = [failure.status, { message: `${failure.status}: fake failure`, code: 0 }];
    } else if (failure !== undefined) {
      status = 429;
      payload = { message: 'You are being rate limited.', retry_after: 0.05, global: false };
      headers = {
        'retry-after': '1',
        'x-ratelimit-limit': '5',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset-after': '0.05',
        'x-ratelimit-bucket': 'fakebucket',
        'x-ratelimit-scope': 'user',
      };
    } else if (!this.#authorized(req, path)) {
      [status, payload] = [401, { message: '401: Unauthorized', code: 0 }];
    } else {
      [status, payload] = await this.#route(req, path, body, rec);
    }
    rec.status = status;
    if (status !== 204) rec.response = payload;
    this.requests.push(rec);
    if (status === 204) res.writeHead(204, headers).end();
    else {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(payload));
    }
    this.#wake();
  }

  #authorized(req: IncomingMessage, path: string): boolean {
    // Interaction callbacks and webhook (interaction token) routes carry no Authorization header.
    if (path.startsWith('/interactions/') || path.startsWith('/webhooks/')) return true;
    return req.headers.authorization === `Bot ${this.token}`;
  }

  #route: Route = async (req, path, _body, rec) => {
    const m = req.method ?? 'GET';
    const seg = path.split('/').filter((s) => s.length > 0);
    if (m === 'GET' && path === '/gateway/bot') {
      return [
        200,
        {
          url: this.gatewayUrl,
          shards: this.#recommendedShards,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: this.#maxConcurrency },
        },
      ];
    }
    if (m === 'GET' && path === '/gateway') return [200, { url: this.gatewayUrl }];
    if (seg[0] === 'channels' && seg[2] === 'typing' && m === 'POST') return [204, null];
    if (seg[0] === 'channels' && seg[2] === 'messages' && m === 'POST') {
      return [200, this.#messageObject(seg[1]!, rec.json, rec.files)];
    }
    if (seg[0] === 'interactions' && seg[3] === 'callback' && m === 'POST') return [204, null];
    if (seg[0] === 'webhooks' && seg[3] === 'messages' && seg[4] === '@original') {
      if (m === 'DELETE') return [204, null];
      return [200, this.#messageObject(this.watchedChannelId, rec.json, rec.files)];
    }
    if (seg[0] === 'webhooks' && seg.length === 3 && m === 'POST') {
      return [200, this.#messageObject(this.watchedChannelId, rec.json, rec.files)];
    }
    if (seg[0] === 'applications' && seg.at(-1) === 'commands' && m === 'PUT') {
      const guildId = seg[2] === 'guilds' ? seg[3] : undefined;
      const body = (rec.json as Record<string, unknown>[] | undefined) ?? [];
      return [
        200,
        body.map((c) => ({
          ...c,
          id: snowflake(),
          application_id: seg[1],
          version: snowflake(),
          ...(guildId === undefined ? {} : { guild_id: guildId }),
        })),
      ];
    }
    return [404, { message: `404: Not Found (${m} ${path})`, code: 0 }];
  };

  #messageObject(channelId: string, json: unknown, files: RecordedPart[]): Record<string, unknown> {
    const j = (json ?? {}) as Record<string, unknown>;
    return {
      id: snowflake(),
      type: 0,
      channel_id: channelId,
      guild_id: this.guildOfChannel(channelId).id,
      author: this.botUser,
      content: typeof j.content === 'string' ? j.content : '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      embeds: Array.isArray(j.embeds) ? j.embeds : [],
      attachments: files.map((f) => ({
        id: snowflake(),
        filename: f.filename ?? 'file',
        size: f.bytes.length,
        url: `${this.origin}/attachments/none/${f.filename ?? 'file'}`,
        proxy_url: `${this.origin}/attachments/none/${f.filename ?? 'file'}`,
        content_type: f.contentType,
      })),
      pinned: false,
      flags: typeof j.flags === 'number' ? j.flags : 0,
    };
  }

  /** Resolves with the first recorded request (past or future) matching `predicate`. */
  waitFor(predicate: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    return this.#waitUntil(() => this.requests.find(predicate), timeoutMs, 'request');
  }

  /** Resolves once `count` requests match `predicate`. */
  waitForCount(predicate: (r: RecordedRequest) => boolean, count: number, timeoutMs = 10_000) {
    return this.#waitUntil(
      () => {
        const hits = this.requests.filter(predicate);
        return hits.length >= count ? hits : undefined;
      },
      timeoutMs,
      `${count} requests`,
    );
  }

  /** Re-runs every pending wait's check (after a request, a gateway event or a closed session). */
  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  #waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const hit = check();
        if (hit === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(hit);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`FakeDiscord: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  // ── Gateway ────────────────────────────────────────────────────────────

  #onGateway(ws: WebSocket, _req: IncomingMessage): void {
    const session: Session = { ws, sessionId: '', seq: 0, intents: 0, identified: false, shard: [0, 1] };
    this.#sessions.add(session);
    ws.on('close', () => {
      this.#sessions.delete(session);
      this.#wake();
    });
    ws.on('error', () => {});
    ws.on('message', (data) => {
      let msg: { op: number; d: unknown };
      try {
        msg = JSON.parse(String(data)) as { op: number; d: unknown };
      } catch {
        ws.close(4002, 'Decode error');
        return;
      }
      this.gatewayLog.push({ dir: 'in', op: msg.op, ...(session.identified ? { shard: session.shard } : {}) });
      this.#onOp(session, msg);
      this.#wake();
    });
    this.#send(session, { op: 10, d: { heartbeat_interval: this.#heartbeatInterval }, s: null, t: null });
  }

  #send(session: Session, payload: { op: number; d: unknown; s: number | null; t: string | null }): void {
    this.gatewayLog.push({
      dir: 'out',
      op: payload.op,
      t: payload.t,
      ...(session.identified ? { shard: session.shard } : {}),
    });
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(payload));
  }

  #dispatch(session: Session, t: string, d: unknown): void {
    session.seq += 1;
    const saved = this.#resumable.get(session.sessionId);
    if (saved !== undefined) saved.seq = session.seq;
    this.#send(session, { op: 0, t, s: session.seq, d });
  }

  #onOp(session: Session, msg: { op: number; d: unknown }): void {
    switch (msg.op) {
      case 1: // heartbeat → ack
        this.#send(session, { op: 11, d: null, s: null, t: null });
        return;
      case 2: {
        // IDENTIFY
        const d = msg.d as { token: string; intents: number; shard?: [number, number] };
        if (d.token !== this.token) {
          session.ws.close(4004, 'Authentication failed');
          return;
        }
        if ((d.intents & this.#disallowedIntents) !== 0) {
          session.ws.close(4014, 'Disallowed intent(s).');
          return;
        }
        const [shardId, shardCount] = d.shard ?? [0, 1];
        if (!Number.isInteger(shardCount) || shardCount < 1 || !Number.isInteger(shardId) || shardId < 0) {
          session.ws.close(4010, 'Invalid shard.');
          return;
        }
        if (shardId >= shardCount) {
          session.ws.close(4010, 'Invalid shard.');
          return;
        }
        this.identifyCount += 1;
        session.identified = true;
        session.intents = d.intents;
        session.shard = [shardId, shardCount];
        this.lastIntents = d.intents;
        session.sessionId = `session-${snowflake()}`;
        this.identifies.push({ sessionId: session.sessionId, shard: session.shard, intents: d.intents });
        this.#resumable.set(session.sessionId, { seq: 0, intents: d.intents, shard: session.shard });
        // Like Discord: READY and GUILD_CREATE carry only the guilds routed to this shard.
        const owned = this.guilds.filter((g) => this.#owns(session, g.id));
        this.#dispatch(session, 'READY', {
          v: 10,
          user: this.botUser,
          guilds: owned.map((g) => ({ id: g.id, unavailable: true })),
          session_id: session.sessionId,
          resume_gateway_url: this.gatewayUrl,
          application: { id: this.appId, flags: 0 },
          private_channels: [],
          shard: session.shard,
        });
        for (const g of owned) this.#dispatch(session, 'GUILD_CREATE', this.#guildCreate(g));
        return;
      }
      case 6: {
        // RESUME
        const d = msg.d as { token: string; session_id: string; seq: number };
        const saved = this.#resumable.get(d.session_id);
        if (d.token !== this.token || saved === undefined) {
          this.#send(session, { op: 9, d: false, s: null, t: null }); // invalid session, not resumable
          return;
        }
        this.resumeCount += 1;
        session.identified = true;
        session.sessionId = d.session_id;
        session.seq = saved.seq;
        session.intents = saved.intents;
        session.shard = saved.shard;
        this.#dispatch(session, 'RESUMED', {});
        return;
      }
      default:
        return;
    }
  }

  #guildCreate(guild: GuildSpec = this.guild): Record<string, unknown> {
    return {
      id: guild.id,
      name: guild.name,
      owner_id: snowflake(),
      unavailable: false,
      member_count: 3,
      joined_at: new Date().toISOString(),
      roles: guild.roles.map((r, i) => ({
        id: r.id,
        name: r.name,
        permissions: r.permissions,
        position: i,
        color: 0,
        hoist: false,
        managed: false,
        mentionable: false,
        flags: 0,
      })),
      // The channel `type` is required: without it MESSAGE_CREATE is dropped silently.
      channels: guild.channels.map((c, i) => ({
        id: c.id,
        type: 0,
        name: c.name,
        position: i,
        guild_id: guild.id,
        permission_overwrites: [],
      })),
      members: [],
      threads: [],
      emojis: [],
      stickers: [],
      features: [],
      voice_states: [],
      presences: [],
    };
  }

  /** True once an identified (or resumed) session is open. */
  get connected(): boolean {
    return [...this.#sessions].some((s) => s.identified && s.ws.readyState === s.ws.OPEN);
  }

  /** Waits until a session is identified or resumed. */
  waitForSession(timeoutMs = 10_000): Promise<true> {
    return this.#waitUntil(() => (this.connected ? true : undefined), timeoutMs, 'a gateway session');
  }

  /** Waits until no identified session is open (the client logged out or was disconnected). */
  waitForDisconnect(timeoutMs = 10_000): Promise<true> {
    return this.#waitUntil(() => (this.connected ? undefined : true), timeoutMs, 'the gateway session to close');
  }

  /** Waits until the client has resumed `count` times in total. */
  waitForResume(count = 1, timeoutMs = 10_000): Promise<true> {
    return this.#waitUntil(
      () => (this.resumeCount >= count && this.connected ? true : undefined),
      timeoutMs,
      `${count} RESUME(s)`,
    );
  }

  /**
   * Drops every gateway connection. Code 4000 (unknown error) makes discord.js RESUME;
   * `terminate` simulates a network cut (1006, also resumed).
   */
  disconnectGateway(mode: { code: number } | 'terminate' = { code: 4000 }): void {
    for (const s of this.#sessions) {
      s.identified = false;
      if (mode === 'terminate') s.ws.terminate();
      else s.ws.close(mode.code, 'fake disconnect');
    }
  }

  /** Dispatches to the identified sessions whose shard owns the guild (every session for no guild: DMs go to shard 0). */
  #broadcast(t: string, d: { guild_id?: string }): void {
    for (const s of this.#sessions) {
      if (s.identified && (d.guild_id === undefined ? s.shard[0] === 0 : this.#owns(s, d.guild_id))) {
        this.#dispatch(s, t, d);
      }
    }
  }

  #user(id: string, username: string) {
    return { id, username, discriminator: '0', global_name: username, avatar: null, bot: false };
  }

  #attachmentObject(a: FakeAttachment) {
    const contentType = a.contentType;
    const url =
      a.url ?? this.hostFile(a.filename, a.bytes ?? Buffer.alloc(0), contentType ?? 'application/octet-stream');
    return {
      id: snowflake(),
      filename: a.filename,
      size: a.bytes?.length ?? 0,
      url,
      proxy_url: url,
      ...(contentType === undefined ? {} : { content_type: contentType }),
    };
  }

  /**
   * Dispatches MESSAGE_CREATE from a user. Like Discord, content and attachments are emptied for
   * sessions without the Message Content intent (unless the message mentions the bot).
   * Returns the message payload.
   */
  sendMessage(input: {
    channelId: string;
    content?: string;
    attachments?: FakeAttachment[];
    mentionBot?: boolean;
    author?: { id: string; username: string; bot?: boolean };
  }): Record<string, unknown> & { id: string; sentAt: number; deliveredTo: [number, number][] } {
    const author = input.author ?? { id: snowflake(), username: 'shopper' };
    const mention = input.mentionBot === true;
    const content = `${mention ? `<@${this.botUser.id}> ` : ''}${input.content ?? ''}`.trim();
    const d = {
      id: snowflake(),
      type: 0,
      channel_id: input.channelId,
      guild_id: this.guildOfChannel(input.channelId).id,
      author: { ...this.#user(author.id, author.username), bot: author.bot === true },
      member: { roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 },
      content,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: mention ? [this.botUser] : [],
      mention_roles: [],
      attachments: (input.attachments ?? []).map((a) => this.#attachmentObject(a)),
      embeds: [],
      pinned: false,
      flags: 0,
    };
    const sentAt = performance.now();
    const deliveredTo = this.#broadcastMessage(d, mention);
    return { ...d, sentAt, deliveredTo };
  }

  /** Dispatch with per-session intent enforcement (used by sendMessage). Returns the shards it went to. */
  #broadcastMessage(d: Record<string, unknown>, mention: boolean): [number, number][] {
    const deliveredTo: [number, number][] = [];
    for (const s of this.#sessions) {
      if (!s.identified || (s.intents & INTENT_GUILD_MESSAGES) === 0) continue;
      // Only the socket of the guild's shard gets the message.
      if (!this.#owns(s, String(d.guild_id))) continue;
      const visible =
        (s.intents & INTENT_MESSAGE_CONTENT) !== 0 || mention ? d : { ...d, content: '', attachments: [], embeds: [] };
      this.#dispatch(s, 'MESSAGE_CREATE', visible);
      deliveredTo.push(s.shard);
    }
    return deliveredTo;
  }

  /**
   * Dispatches INTERACTION_CREATE. Returns `{id, token}` of the interaction.
   * - `slash`: a chat-input command with options (attachment options resolve from `attachments`).
   * - `autocomplete`: same shape, type 4, one option focused.
   * - `messageContext`: a message command targeting `target` (a payload from sendMessage).
   */
  sendInteraction(input: {
    kind: 'slash' | 'autocomplete' | 'messageContext';
    name: string;
    channelId?: string;
    options?: { name: string; type: number; value: string | number; focused?: boolean }[];
    attachments?: Record<string, FakeAttachment>;
    target?: Record<string, unknown>;
    user?: { id: string; username: string };
    permissions?: string;
    roles?: string[];
  }): { id: string; token: string } {
    const id = snowflake();
    const token = `itoken-${id}`;
    const user = this.#user(input.user?.id ?? snowflake(), input.user?.username ?? 'shopper');
    const channelId = input.channelId ?? this.watchedChannelId;
    const guildId = this.guildOfChannel(channelId).id;
    const resolvedAttachments: Record<string, unknown> = {};
    const options = (input.options ?? []).map((o) => ({ ...o }));
    for (const [optName, att] of Object.entries(input.attachments ?? {})) {
      const obj = this.#attachmentObject(att);
      resolvedAttachments[obj.id] = obj;
      options.push({ name: optName, type: 11, value: obj.id });
    }
    const commandType = input.kind === 'messageContext' ? 3 : 1;
    const data: Record<string, unknown> = {
      id: snowflake(),
      name: input.name,
      type: commandType,
      guild_id: guildId,
    };
    if (commandType === 1) data.options = options;
    const resolved: Record<string, unknown> = {};
    if (Object.keys(resolvedAttachments).length > 0) resolved.attachments = resolvedAttachments;
    if (input.kind === 'messageContext') {
      const target = input.target ?? {};
      data.target_id = target.id;
      resolved.messages = { [String(target.id)]: target };
    }
    if (Object.keys(resolved).length > 0) data.resolved = resolved;
    const d = {
      id,
      application_id: this.appId,
      type: input.kind === 'autocomplete' ? 4 : 2,
      token,
      version: 1,
      guild_id: guildId,
      channel_id: channelId,
      channel: { id: channelId, type: 0, guild_id: guildId, name: 'channel' },
      member: {
        user,
        roles: input.roles ?? [],
        permissions: input.permissions ?? '1024',
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      data,
      locale: 'en-US',
      guild_locale: 'en-US',
      app_permissions: '2248473465835073',
      // Required, or discord.js throws inside its dispatch handler and the interaction is lost.
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      context: 0,
      attachment_size_limit: 10 * 1024 * 1024,
    };
    this.#broadcast('INTERACTION_CREATE', d);
    return { id, token };
  }

  /**
   * Dispatches INTERACTION_CREATE type 3 (MESSAGE_COMPONENT): `user` pressed the button
   * `customId` on a message of the bot (by default an ephemeral one). Returns `{id, token}`.
   */
  pressButton(input: {
    customId: string;
    /** The message the button is on (what the bot last wrote there: content, components). */
    message?: { id?: string; content?: string; components?: unknown[]; embeds?: unknown[]; flags?: number };
    channelId?: string;
    user?: { id: string; username: string };
    permissions?: string;
    roles?: string[];
  }): { id: string; token: string } {
    const id = snowflake();
    const token = `itoken-${id}`;
    const user = this.#user(input.user?.id ?? snowflake(), input.user?.username ?? 'shopper');
    const channelId = input.channelId ?? this.watchedChannelId;
    const guildId = this.guildOfChannel(channelId).id;
    const m = input.message ?? {};
    const message = {
      ...this.#messageObject(channelId, { content: m.content ?? '', embeds: m.embeds ?? [], flags: m.flags ?? 64 }, []),
      id: m.id ?? snowflake(),
      components: m.components ?? [],
    };
    const d = {
      id,
      application_id: this.appId,
      type: 3,
      token,
      version: 1,
      guild_id: guildId,
      channel_id: channelId,
      channel: { id: channelId, type: 0, guild_id: guildId, name: 'channel' },
      member: {
        user,
        roles: input.roles ?? [],
        permissions: input.permissions ?? '1024',
        joined_at: new Date().toISOString(),
        deaf: false,
        mute: false,
        flags: 0,
      },
      data: { custom_id: input.customId, component_type: 2 },
      message,
      locale: 'en-US',
      guild_locale: 'en-US',
      app_permissions: '2248473465835073',
      entitlements: [],
      authorizing_integration_owners: { '0': guildId },
      context: 0,
      attachment_size_limit: 10 * 1024 * 1024,
    };
    this.#broadcast('INTERACTION_CREATE', d);
    return { id, token };
  }

  /**
   * Dispatches MESSAGE_REACTION_ADD: `user` reacted with `emoji` (a unicode name such as 👍) to the
   * message `messageId` in `channelId`. Like Discord, only sessions with the GuildMessageReactions
   * intent on the guild's shard get it. Returns the shards it went to.
   */
  addReaction(input: {
    messageId: string;
    channelId?: string;
    emoji: string;
    user?: { id: string; username: string; bot?: boolean };
    /** The author of the message reacted to. @defaultValue the bot */
    messageAuthorId?: string;
  }): [number, number][] {
    const channelId = input.channelId ?? this.watchedChannelId;
    const guildId = this.guildOfChannel(channelId).id;
    const u = input.user ?? { id: snowflake(), username: 'shopper' };
    const user = { ...this.#user(u.id, u.username), bot: u.bot === true };
    const d = {
      type: 0,
      user_id: user.id,
      channel_id: channelId,
      message_id: input.messageId,
      message_author_id: input.messageAuthorId ?? this.botUser.id,
      guild_id: guildId,
      member: { user, roles: [], joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0 },
      emoji: { id: null, name: input.emoji },
      burst: false,
      burst_colors: [],
    };
    const deliveredTo: [number, number][] = [];
    for (const s of this.#sessions) {
      if (!s.identified || (s.intents & INTENT_GUILD_MESSAGE_REACTIONS) === 0 || !this.#owns(s, guildId)) continue;
      this.#dispatch(s, 'MESSAGE_REACTION_ADD', d);
      deliveredTo.push(s.shard);
    }
    return deliveredTo;
  }

  /** Closes gateway sessions, the file server and REST. Destroy the client first. */
  async close(): Promise<void> {
    for (const s of this.#sessions) s.ws.terminate();
    this.#wss.close();
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
    await once(this.#server, 'close').catch(() => {});
  }
}
