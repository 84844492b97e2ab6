/**
 * A loopback fake of Slack for driving the real Bolt App: the Web API (`/api/<method>`),
 * private file downloads, upload URLs, `response_url`s, and a Socket Mode WebSocket, all on
 * one 127.0.0.1 port. Plus `SlackSigner`, a test client that signs requests like Slack does.
 * Shapes and pitfalls follow /work/shared/docs/platform-fakes.md part B.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { listenOnLoopback } from '../helpers/net.js';

/** One multipart part. */
export interface RecordedPart {
  name: string;
  filename?: string;
  contentType?: string;
  bytes: Buffer;
}

/** One request the bot made to the fake. */
export interface RecordedCall {
  at: number;
  /** The Web API method ("chat.postMessage"), or "upload", "download", "response_url", "socket_ack". */
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Form fields (non-scalars parsed from their JSON strings) or the JSON body. */
  args: Record<string, unknown>;
  parts: RecordedPart[];
  status: number;
  /** What the fake answered (JSON payloads only). */
  response?: unknown;
}

export interface FakeFileSpec {
  name: string;
  mimetype: string;
  bytes: Buffer;
  /** Who shared it. */
  user?: string;
}

export interface FakeFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  user: string | undefined;
  url_private: string;
  url_private_download: string;
}

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  /** Users and their roles for users.info. */
  users?: Record<string, { is_admin?: boolean; is_owner?: boolean }>;
}

interface HistoryEntry {
  type: 'message';
  ts: string;
  user: string;
  text: string;
  files?: FakeFile[];
  bot_id?: string;
}

const LOGIN_PAGE =
  '<!DOCTYPE html><html><head><title>Slack</title></head><body><h1>Sign in to your workspace</h1></body></html>';

function parseArgs(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((v.startsWith('[') || v.startsWith('{')) && v.length > 1) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        // keep the string
      }
    }
    out[k] = v;
  }
  return out;
}

/**
 * The fake. `await FakeSlack.start()`, give the bot `apiUrl`, drive it with a `SlackSigner`
 * (HTTP mode) or `sendEnvelope` (Socket Mode), and assert on `calls` / `waitFor`.
 */
export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly calls: RecordedCall[] = [];
  /** When false, file downloads get the HTML login page even with the token (no files:read). */
  filesReadScope = true;
  readonly users: Map<string, { is_admin?: boolean; is_owner?: boolean }>;

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #sockets = new Set<Socket>();
  readonly #files = new Map<string, { file: FakeFile; bytes: Buffer }>();
  readonly #history = new Map<string, HistoryEntry[]>();
  readonly #uploads = new Map<string, { filename: string; length: number; received: boolean }>();
  readonly #waiters = new Set<() => void>();
  readonly #acks = new Map<string, (payload: unknown) => void>();
  #socket: WebSocket | undefined;
  #port = 0;
  #seq = 0;
  #tsCounter = 0;

  private constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? 'xoxb-test-bot-token';
    this.appToken = options.appToken ?? 'xapp-test-app-token';
    this.teamId = options.teamId ?? 'T0TEST';
    this.botUserId = options.botUserId ?? 'UBOT';
    this.botId = options.botId ?? 'BBOT';
    this.users = new Map(Object.entries(options.users ?? {}));
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket')) {
        socket.destroy();
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    fake.#port = await listenOnLoopback(fake.#server);
    return fake;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** What the bot gets as SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.origin}/api/`;
  }

  /** True once a Socket Mode client said hello back (is connected). */
  get socketConnected(): boolean {
    return this.#socket !== undefined;
  }

  /** Web API calls only (no downloads, uploads, response_url posts). */
  apiCalls(method?: string): RecordedCall[] {
    return this.calls.filter((c) => c.path.startsWith('/api/') && (method === undefined || c.method === method));
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Stores a file and returns its full Slack file object. */
  addFile(spec: FakeFileSpec): FakeFile {
    const id = `F${String(++this.#seq).padStart(6, '0')}`;
    const ext = spec.name.includes('.') ? (spec.name.split('.').pop() ?? '') : '';
    const base = `${this.origin}/files-pri/${this.teamId}-${id}/${encodeURIComponent(spec.name)}`;
    const file: FakeFile = {
      id,
      name: spec.name,
      title: spec.name,
      mimetype: spec.mimetype,
      filetype: ext.toLowerCase(),
      size: spec.bytes.length,
      user: spec.user,
      url_private: base,
      url_private_download: `${base}?download=1`,
    };
    this.#files.set(id, { file, bytes: spec.bytes });
    return file;
  }

  /** A new message timestamp ("1700000000.000100"), increasing, close to now. */
  nextTs(): string {
    this.#tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.#tsCounter).padStart(6, '0')}`;
  }

  /** Adds a message to a channel's history (what conversations.history returns). */
  addHistory(
    channel: string,
    entry: { user: string; text?: string; files?: FakeFile[]; ts?: string; bot_id?: string },
  ): string {
    const ts = entry.ts ?? this.nextTs();
    const list = this.#history.get(channel) ?? [];
    const message: HistoryEntry = { type: 'message', ts, user: entry.user, text: entry.text ?? '' };
    if (entry.files !== undefined) message.files = entry.files;
    if (entry.bot_id !== undefined) message.bot_id = entry.bot_id;
    list.push(message);
    this.#history.set(channel, list);
    return ts;
  }

  /** Resolves when `predicate` holds over the recorded calls; rejects after `timeoutMs`. */
  async waitFor<T>(predicate: (calls: RecordedCall[]) => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const check = () => {
      const v = predicate(this.calls);
      return v === undefined || v === false ? undefined : v;
    };
    const first = check();
    if (first !== undefined) return first;
    return new Promise<T>((resolve, reject) => {
      const waiter = () => {
        const v = check();
        if (v !== undefined) {
          this.#waiters.delete(waiter);
          clearTimeout(timer);
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(`waitFor timed out after ${timeoutMs} ms; calls: ${this.calls.map((c) => c.method).join(', ')}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /** Socket Mode: sends an envelope and resolves with the client's ack payload. */
  async sendEnvelope(
    type: 'events_api' | 'slash_commands' | 'interactive',
    payload: unknown,
    timeoutMs = 10_000,
  ): Promise<unknown> {
    const ws = this.#socket;
    if (ws === undefined) throw new Error('no Socket Mode client connected');
    const envelopeId = randomUUID();
    const acked = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#acks.delete(envelopeId);
        reject(new Error('no ack'));
      }, timeoutMs);
      this.#acks.set(envelopeId, (p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
    ws.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        retry_attempt: 0,
        retry_reason: '',
      }),
    );
    return acked;
  }

  async stop(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  // ---- internals ---------------------------------------------------------------------------

  #record(call: RecordedCall): void {
    this.calls.push(call);
    for (const w of [...this.#waiters]) w();
  }

  #onSocket(ws: WebSocket): void {
    ws.on('message', (data) => {
      let msg: { envelope_id?: string; payload?: unknown };
      try {
        msg = JSON.parse(String(data)) as typeof msg;
      } catch {
        return;
      }
      if (msg.envelope_id === undefined) return;
      this.#record({
        at: Date.now(),
        method: 'socket_ack',
        path: '/socket',
        headers: {},
        args: { envelope_id: msg.envelope_id, payload: msg.payload },
        parts: [],
        status: 200,
      });
      this.#acks.get(msg.envelope_id)?.(msg.payload);
      this.#acks.delete(msg.envelope_id);
    });
    ws.on('close', () => {
      if (this.#socket === ws) this.#socket = undefined;
    });
    ws.on('error', () => {});
    this.#socket = ws;
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake-slack', build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0TEST' },
      }),
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const ct = String(req.headers['content-type'] ?? '');
    const call: RecordedCall = {
      at: Date.now(),
      method: '',
      path: url.pathname,
      headers: req.headers,
      args: {},
      parts: [],
      status: 200,
    };
    const send = (status: number, payload: unknown, type = 'application/json') => {
      call.status = status;
      if (typeof payload !== 'string') call.response = payload;
      this.#record(call);
      const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
      res.writeHead(status, { 'content-type': type }).end(text);
    };

    if (url.pathname.startsWith('/files-pri/')) {
      call.method = 'download';
      const id = url.pathname.split('/')[2]?.split('-')[1] ?? '';
      const entry = this.#files.get(id);
      const authorised = req.headers.authorization === `Bearer ${this.botToken}` && this.filesReadScope;
      if (entry === undefined) return send(404, 'not found', 'text/plain');
      // Like Slack: a request without a valid token gets the login page with status 200.
      if (!authorised) return send(200, LOGIN_PAGE, 'text/html; charset=utf-8');
      call.status = 200;
      this.#record(call);
      res
        .writeHead(200, { 'content-type': entry.file.mimetype, 'content-length': entry.bytes.length })
        .end(entry.bytes);
      return;
    }
    if (url.pathname.startsWith('/upload/')) {
      call.method = 'upload';
      call.parts = await parseMultipart(body, ct);
      const id = url.pathname.split('/')[2] ?? '';
      const up = this.#uploads.get(id);
      if (up === undefined) return send(404, 'unknown upload', 'text/plain');
      up.received = true;
      return send(200, `OK - ${body.length}`, 'text/plain');
    }
    if (url.pathname.startsWith('/response_url/')) {
      call.method = 'response_url';
      call.args = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      return send(200, 'ok', 'text/plain');
    }
    if (!url.pathname.startsWith('/api/')) return send(404, 'not found', 'text/plain');

    call.method = url.pathname.slice('/api/'.length);
    if (ct.startsWith('application/json')) {
      call.args = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } else if (ct.startsWith('multipart/form-data')) {
      call.parts = await parseMultipart(body, ct);
      const fields: Record<string, string> = {};
      for (const p of call.parts) if (p.filename === undefined) fields[p.name] = p.bytes.toString('utf8');
      call.args = parseArgs(fields);
    } else {
      call.args = parseArgs(Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
    const auth = String(req.headers.authorization ?? '');
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : String(call.args.token ?? '');

    if (call.method === 'apps.connections.open') {
      if (token !== this.appToken) return send(200, { ok: false, error: 'invalid_auth' });
      return send(200, { ok: true, url: `ws://127.0.0.1:${this.#port}/socket?ticket=${randomUUID()}` });
    }
    if (token !== this.botToken) return send(200, { ok: false, error: 'invalid_auth' });
    return send(200, this.#api(call.method, call.args));
  }

  #api(method: string, a: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.test/',
          team: 'Fake Team',
          user: 'lookalike',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
        };
      case 'files.info': {
        const entry = this.#files.get(String(a.file));
        return entry === undefined ? { ok: false, error: 'file_not_found' } : { ok: true, file: entry.file };
      }
      case 'users.info': {
        const id = String(a.user);
        const u = this.users.get(id) ?? {};
        return {
          ok: true,
          user: { id, name: id.toLowerCase(), is_admin: u.is_admin ?? false, is_owner: u.is_owner ?? false },
        };
      }
      case 'chat.postMessage':
      case 'chat.postEphemeral': {
        const ts = this.nextTs();
        const channel = String(a.channel);
        if (method === 'chat.postMessage')
          this.addHistory(channel, { user: this.botUserId, text: String(a.text ?? ''), ts, bot_id: this.botId });
        return method === 'chat.postMessage'
          ? { ok: true, channel, ts, message: { type: 'message', text: a.text, ts, bot_id: this.botId } }
          : { ok: true, message_ts: ts };
      }
      case 'chat.update':
        return { ok: true, channel: a.channel, ts: a.ts, text: a.text };
      case 'conversations.history': {
        const oldest = Number(a.oldest ?? 0);
        const limit = Number(a.limit ?? 100);
        const list = (this.#history.get(String(a.channel)) ?? []).filter((m) => Number(m.ts) >= oldest);
        const newestFirst = [...list].sort((x, y) => Number(y.ts) - Number(x.ts)).slice(0, limit);
        return { ok: true, messages: newestFirst, has_more: false, response_metadata: { next_cursor: '' } };
      }
      case 'files.getUploadURLExternal': {
        const id = `F${String(++this.#seq).padStart(6, '0')}`;
        this.#uploads.set(id, { filename: String(a.filename), length: Number(a.length), received: false });
        return { ok: true, upload_url: `${this.origin}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal': {
        const files = (a.files ?? []) as { id: string; title?: string }[];
        const missing = files.filter((f) => this.#uploads.get(f.id)?.received !== true);
        if (missing.length > 0) return { ok: false, error: 'file_not_uploaded' };
        return { ok: true, files: files.map((f) => ({ id: f.id, title: f.title ?? '' })) };
      }
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }
}

async function parseMultipart(body: Buffer, contentType: string): Promise<RecordedPart[]> {
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
  const parts: RecordedPart[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') parts.push({ name, bytes: Buffer.from(value, 'utf8') });
    else
      parts.push({
        name,
        filename: value.name,
        contentType: value.type,
        bytes: Buffer.from(await value.arrayBuffer()),
      });
  }
  return parts;
}

// ---- signing test client -------------------------------------------------------------------

export interface SignedPostOptions {
  /** Unix seconds. @defaultValue now */
  timestamp?: number;
  /** Sign with this secret instead. */
  secret?: string;
  /** Leave the signature headers out. */
  unsigned?: boolean;
  /** Change the body after signing. */
  tamper?: boolean;
}

/** Posts requests to a Bolt receiver signed the way Slack signs them. */
export class SlackSigner {
  readonly #url: string;
  readonly #secret: string;
  readonly #fake: FakeSlack;
  #responseSeq = 0;
  #eventSeq = 0;

  /**
   * @param url the receiver's full URL, e.g. http://127.0.0.1:P/slack/events
   */
  constructor(url: string, signingSecret: string, fake: FakeSlack) {
    this.#url = url;
    this.#secret = signingSecret;
    this.#fake = fake;
  }

  /** `v0=` + hex HMAC-SHA256 of `v0:<ts>:<body>`. */
  static sign(secret: string, timestamp: number, body: string): string {
    return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  }

  /** A response_url on the fake that records what Bolt's respond() posts. */
  responseUrl(): string {
    return `${this.#fake.origin}/response_url/${++this.#responseSeq}`;
  }

  async post(body: string, contentType: string, options: SignedPostOptions = {}): Promise<Response> {
    const ts = options.timestamp ?? Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = { 'content-type': contentType };
    if (options.unsigned !== true) {
      headers['x-slack-request-timestamp'] = String(ts);
      headers['x-slack-signature'] = SlackSigner.sign(options.secret ?? this.#secret, ts, body);
    }
    const sent = options.tamper === true ? body.replace(/.$/, (c) => (c === ' ' ? '_' : ' ')) : body;
    return fetch(this.#url, { method: 'POST', headers, body: sent });
  }

  /** The Events API envelope around an event. */
  eventBody(event: Record<string, unknown>): Record<string, unknown> {
    this.#eventSeq += 1;
    return {
      token: 'verification-token-unused',
      team_id: this.#fake.teamId,
      api_app_id: 'A0TEST',
      type: 'event_callback',
      event_id: `Ev${String(this.#eventSeq).padStart(8, '0')}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        { team_id: this.#fake.teamId, user_id: this.#fake.botUserId, is_bot: true, is_enterprise_install: false },
      ],
      event,
    };
  }

  /** Slash command form fields. */
  commandBody(command: string, fields: { user: string; channel: string; text?: string }): Record<string, string> {
    return {
      token: 'verification-token-unused',
      team_id: this.#fake.teamId,
      team_domain: 'fake',
      channel_id: fields.channel,
      channel_name: 'general',
      user_id: fields.user,
      user_name: fields.user.toLowerCase(),
      command,
      text: fields.text ?? '',
      api_app_id: 'A0TEST',
      is_enterprise_install: 'false',
      response_url: this.responseUrl(),
      trigger_id: `trig.${randomUUID()}`,
    };
  }

  /** A message shortcut payload ("Find similar"). */
  shortcutPayload(fields: {
    user: string;
    channel: string;
    message: Record<string, unknown>;
    callbackId?: string;
  }): Record<string, unknown> {
    return {
      type: 'message_action',
      token: 'verification-token-unused',
      action_ts: String(Date.now() / 1000),
      team: { id: this.#fake.teamId, domain: 'fake' },
      user: { id: fields.user, name: fields.user.toLowerCase(), team_id: this.#fake.teamId },
      channel: { id: fields.channel, name: 'general' },
      is_enterprise_install: false,
      callback_id: fields.callbackId ?? 'find_similar',
      trigger_id: `trig.${randomUUID()}`,
      response_url: this.responseUrl(),
      message_ts: fields.message.ts,
      message: fields.message,
    };
  }

  /**
   * A block_actions payload: `user` pressed the button `actionId` (with its `value`) on the
   * message `messageTs` in `channel` (what Slack posts to the interactivity URL).
   */
  blockActionsPayload(fields: {
    user: string;
    channel: string;
    messageTs: string;
    actionId: string;
    value?: string;
    blockId?: string;
    text?: string;
    /** The thread the message with the button is in. */
    threadTs?: string;
  }): Record<string, unknown> {
    return {
      type: 'block_actions',
      token: 'verification-token-unused',
      api_app_id: 'A0TEST',
      team: { id: this.#fake.teamId, domain: 'fake' },
      user: {
        id: fields.user,
        username: fields.user.toLowerCase(),
        name: fields.user.toLowerCase(),
        team_id: this.#fake.teamId,
      },
      container: { type: 'message', message_ts: fields.messageTs, channel_id: fields.channel, is_ephemeral: false },
      channel: { id: fields.channel, name: 'general' },
      message: {
        type: 'message',
        user: this.#fake.botUserId,
        bot_id: this.#fake.botId,
        ts: fields.messageTs,
        text: fields.text ?? '',
        ...(fields.threadTs === undefined ? {} : { thread_ts: fields.threadTs }),
      },
      trigger_id: `trig.${randomUUID()}`,
      response_url: this.responseUrl(),
      is_enterprise_install: false,
      state: { values: {} },
      actions: [
        {
          type: 'button',
          action_id: fields.actionId,
          block_id: fields.blockId ?? 'block',
          text: { type: 'plain_text', text: fields.actionId, emoji: true },
          ...(fields.value === undefined ? {} : { value: fields.value }),
          action_ts: String(Date.now() / 1000),
        },
      ],
    };
  }

  /** Posts an interactivity payload (block_actions, shortcuts) as Slack does: the form field `payload`. */
  postAction(payload: Record<string, unknown>, options?: SignedPostOptions): Promise<Response> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.post(body, 'application/x-www-form-urlencoded', options);
  }

  postEvent(event: Record<string, unknown>, options?: SignedPostOptions): Promise<Response> {
    return this.post(JSON.stringify(this.eventBody(event)), 'application/json', options);
  }

  postCommand(fields: Record<string, string>, options?: SignedPostOptions): Promise<Response> {
    return this.post(new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded', options);
  }

  postShortcut(payload: Record<string, unknown>, options?: SignedPostOptions): Promise<Response> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.post(body, 'application/x-www-form-urlencoded', options);
  }
}
