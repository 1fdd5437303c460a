/**
 * A lean HTTP/1.1 client connection for talking to one known peer (a signing node, or the gateway
 * under a benchmark's load): one request at a time over one keep-alive TCP or TLS socket, the
 * request written with a single `write`, the answer framed by `Content-Length`. It exists because
 * node:http's client machinery costs about 0.2 ms of CPU per request on the 2-core machine the
 * benchmarks run on, against about 0.09 ms for this (measured with a 3 kB body and a 0.5 kB
 * answer); on the signing path the coordinator sends three such requests before any node starts.
 *
 * What it accepts from the peer: a status line `HTTP/1.x NNN`, headers of at most 64 KiB, and
 * either a `Content-Length` body (kept-alive afterwards unless the peer says `Connection: close`)
 * or a body ending with the connection. `Transfer-Encoding` is refused (`bad_answer`): the peers
 * this talks to always send a length. Bytes after a complete answer make the connection unusable.
 *
 * @example
 *   const c = await Http1Connection.open({ host: '127.0.0.1', port: 7001 }, 5_000);
 *   const r = await c.request('POST', '/v1/sessions', { 'content-type': 'application/json' }, Buffer.from('{}'), 5_000);
 *   console.log(r.status, r.body.toString());
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/** Largest header block accepted from a peer. */
export const MAX_HEADER_BYTES = 64 * 1024;

export interface Http1Target {
  readonly host: string;
  readonly port: number;
  /** TLS options (trust anchors, identity check, minimum version); plain TCP when absent. */
  readonly tls?: ConnectionOptions | undefined;
}

export interface Http1Answer {
  readonly status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * Why an exchange failed. `reused`: the request went out on a connection that had already served
 * one and not a byte of answer came back (the peer closed an idle connection as it was reused), so
 * it never reached the peer's service and may be sent again on a new connection.
 */
export class Http1Error extends Error {
  constructor(
    readonly kind: 'timeout' | 'unreachable' | 'too_large' | 'bad_answer' | 'tls',
    message: string,
    readonly reused = false,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'Http1Error';
  }
}

interface Pending {
  resolve(a: Http1Answer): void;
  reject(e: Http1Error): void;
  maxBytes: number;
  timer: NodeJS.Timeout;
}

export class Http1Connection {
  private pending: Pending | null = null;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private served = 0;
  private closed = false;
  private gotBytes = false;
  /** The pending answer's parsed header block, once it has arrived. */
  private head: { status: number; headers: Record<string, string>; start: number; length: number | null } | null = null;

  private constructor(private readonly socket: Socket, private readonly hostHeader: string) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.fail(new Http1Error('unreachable', err.message, this.reusedNow(), err)));
    socket.on('close', () => this.fail(new Http1Error('unreachable', 'connection closed', this.reusedNow())));
    socket.on('timeout', () => {
      if (this.pending === null) this.close();
    });
  }

  /** Connects (and for TLS, completes the handshake, whose identity checks are the caller's `tls` options). */
  static open(target: Http1Target, timeoutMs: number): Promise<Http1Connection> {
    return new Promise((resolve, reject) => {
      const socket = target.tls
        ? tlsConnect({ ...target.tls, host: target.host, port: target.port })
        : netConnect({ host: target.host, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Http1Error('timeout', 'connection timed out'));
      }, timeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(new Http1Error(target.tls ? 'tls' : 'unreachable', err.message, false, err));
      };
      socket.once('error', onError);
      socket.once(target.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new Http1Connection(socket, `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`));
      });
    });
  }

  /** Usable for another request: open, idle, and the last answer left it reusable. */
  get idle(): boolean {
    return !this.closed && this.pending === null;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /**
   * Between requests: the socket closes after `ms` without one (the peer sees EOF), and an idle
   * connection does not keep the process alive.
   */
  park(ms: number): void {
    this.socket.setTimeout(ms);
    this.socket.unref();
  }

  /**
   * Sends one request and resolves with the whole answer. Rejects with `Http1Error`; after a
   * rejection the connection is closed.
   */
  request(method: string, path: string, headers: Readonly<Record<string, string>>, body: Buffer | undefined, timeoutMs: number, maxBytes = 16 * 1024 * 1024): Promise<Http1Answer> {
    if (!this.idle) return Promise.reject(new Http1Error('unreachable', 'connection busy or closed'));
    if (/[\s\r\n]/.test(path) || /[\s\r\n]/.test(method)) return Promise.reject(new Http1Error('bad_answer', 'malformed request line'));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\n`;
    for (const [k, v] of Object.entries(headers)) {
      if (/[\r\n:]/.test(k) || /[\r\n]/.test(v)) return Promise.reject(new Http1Error('bad_answer', `malformed header ${k}`));
      if (k.toLowerCase() !== 'content-length') head += `${k}: ${v}\r\n`;
    }
    head += `content-length: ${body?.length ?? 0}\r\n\r\n`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Http1Error('timeout', 'timed out')), timeoutMs);
      this.pending = { resolve, reject, maxBytes, timer };
      this.gotBytes = false;
      this.socket.setTimeout(0);
      this.socket.ref();
      const h = Buffer.from(head, 'latin1');
      this.socket.write(body && body.length > 0 ? Buffer.concat([h, body]) : h);
    });
  }

  private reusedNow(): boolean {
    return this.served > 0 && !this.gotBytes;
  }

  private onData(d: Buffer): void {
    if (!this.pending) {
      this.close(); // bytes nobody asked for
      return;
    }
    this.gotBytes = true;
    this.buffered.push(d);
    this.bufferedBytes += d.length;
    this.parse(false);
  }

  private onEnd(): void {
    if (this.pending) this.parse(true);
    this.close();
  }

  /**
   * Completes the pending answer if the buffered bytes hold one (`eof`: the peer ended the
   * connection). The header block is parsed once; after it, chunks are only counted until the
   * body is complete, and joined once.
   */
  private parse(eof: boolean): void {
    const p = this.pending;
    if (!p) return;
    if (!this.head) {
      const all = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered);
      this.buffered = [all];
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) {
        if (all.length > MAX_HEADER_BYTES) this.fail(new Http1Error('bad_answer', 'header block too large'));
        else if (eof) this.fail(new Http1Error('unreachable', 'connection ended inside the answer', this.reusedNow()));
        return;
      }
      if (end > MAX_HEADER_BYTES) return this.fail(new Http1Error('bad_answer', 'header block too large'));
      const lines = all.subarray(0, end).toString('latin1').split('\r\n');
      const status = /^HTTP\/1\.[01] ([1-5]\d\d)(?: |$)/.exec(lines[0] ?? '');
      if (!status) return this.fail(new Http1Error('bad_answer', 'not an HTTP/1.1 status line'));
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i <= 0) return this.fail(new Http1Error('bad_answer', 'malformed header line'));
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      if (headers['transfer-encoding'] !== undefined) return this.fail(new Http1Error('bad_answer', 'transfer-encoding is not supported'));
      const cl = headers['content-length'];
      if (cl !== undefined && !/^\d{1,12}$/.test(cl)) return this.fail(new Http1Error('bad_answer', 'malformed content-length'));
      const length = cl === undefined ? null : Number(cl);
      if (length !== null && length > p.maxBytes) return this.fail(new Http1Error('too_large', 'answer too large'));
      this.head = { status: Number(status[1]), headers, start: end + 4, length };
    }
    const { status, headers, start } = this.head;
    const have = this.bufferedBytes - start;
    if (this.head.length === null) {
      if (have > p.maxBytes) return this.fail(new Http1Error('too_large', 'answer too large'));
      if (!eof) return; // the body ends with the connection
    } else if (have < this.head.length) {
      if (eof) this.fail(new Http1Error('unreachable', 'connection ended inside the answer'));
      return;
    }
    const delimited = this.head.length !== null; // by Content-Length, not by the end of the connection
    const length = this.head.length ?? have;
    const all = this.buffered.length === 1 ? (this.buffered[0] as Buffer) : Buffer.concat(this.buffered);
    const extra = all.length - start - length;
    const body = Buffer.from(all.subarray(start, start + length));
    clearTimeout(p.timer);
    this.pending = null;
    this.head = null;
    this.buffered = [];
    this.bufferedBytes = 0;
    this.served += 1;
    // no pipelining: anything past the answer, or a peer that closes, ends the connection
    if (extra > 0 || eof || !delimited || /\bclose\b/i.test(headers.connection ?? '')) this.close();
    p.resolve({ status, headers, body });
  }

  private fail(e: Http1Error): void {
    const p = this.pending;
    this.pending = null;
    this.head = null;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (!this.closed) this.close();
    if (!p) return;
    clearTimeout(p.timer);
    p.reject(e);
  }
}

/**
 * Idle connections to one peer, reused in last-in-first-out order; each request takes one (or
 * opens one) and puts it back when the answer was complete and the connection stays usable.
 */
export class Http1Pool {
  private readonly idleConnections: Http1Connection[] = [];

  constructor(private readonly target: Http1Target, private readonly o: { idleMs: number; maxIdle?: number }) {}

  /** One exchange; a request that failed only because a reused idle connection was closed by the peer is sent once more on a new connection. */
  async request(method: string, path: string, headers: Readonly<Record<string, string>>, body: Buffer | undefined, timeoutMs: number, maxBytes?: number): Promise<Http1Answer> {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      let c = this.idleConnections.pop();
      while (c && !c.idle) c = this.idleConnections.pop(); // closed by the peer meanwhile
      const reusing = c !== undefined;
      c ??= await Http1Connection.open(this.target, Math.max(1, deadline - Date.now()));
      try {
        const answer = await c.request(method, path, headers, body, Math.max(1, deadline - Date.now()), maxBytes);
        this.release(c);
        return answer;
      } catch (err) {
        c.close();
        if (attempt === 0 && reusing && err instanceof Http1Error && err.reused) continue;
        throw err;
      }
    }
  }

  /** Closes the idle connections (a later request opens a new one). */
  close(): void {
    for (const c of this.idleConnections.splice(0)) c.close();
  }

  private release(c: Http1Connection): void {
    if (!c.idle || this.idleConnections.length >= (this.o.maxIdle ?? 64)) {
      c.close();
      return;
    }
    c.park(this.o.idleMs);
    this.idleConnections.push(c);
  }
}
