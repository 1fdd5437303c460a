import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Http1Connection, Http1Error, Http1Pool } from './connection.js';

const servers: (HttpServer | NetServer)[] = [];
const open = new Set<Socket>();
afterEach(async () => {
  for (const s of open) s.destroy();
  open.clear();
  for (const s of servers.splice(0)) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen<S extends HttpServer | NetServer>(s: S): Promise<number> {
  servers.push(s);
  s.on('connection', (sock: Socket) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

/** A raw TCP peer that answers every request with `answer` (then optionally ends the connection). */
async function rawPeer(answer: (n: number) => string | Buffer, o: { end?: boolean } = {}): Promise<number> {
  let n = 0;
  return listen(createNetServer((sock: Socket) => {
    let acc = '';
    sock.on('data', (d) => {
      acc += d.toString('latin1');
      const i = acc.indexOf('\r\n\r\n');
      if (i < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(acc.slice(0, i))?.[1] ?? 0);
      if (acc.length < i + 4 + len) return;
      acc = acc.slice(i + 4 + len);
      sock.write(answer(n++));
      if (o.end) sock.end();
    });
    sock.on('error', () => {});
  }));
}

const kindOf = async (p: Promise<unknown>): Promise<string> => p.then(() => 'resolved', (e: unknown) => (e instanceof Http1Error ? e.kind : `other: ${String(e)}`));

describe('Http1Connection', () => {
  it('exchanges JSON with node:http over one kept-alive connection, body and headers intact', async () => {
    const seen: { method: string; url: string; body: string; type: string | undefined; remote: number | undefined }[] = [];
    const port = await listen(createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body, type: req.headers['content-type'], remote: req.socket.remotePort });
        const text = JSON.stringify({ echo: body.length, é: 'ü' });
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    }));
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    const big = Buffer.from(JSON.stringify({ x: 'a'.repeat(200_000) }));
    const a = await c.request('POST', '/v1/sessions', { 'content-type': 'application/json' }, big, 2_000);
    expect(a.status).toBe(201);
    expect(JSON.parse(a.body.toString())).toEqual({ echo: big.length, é: 'ü' });
    const b = await c.request('GET', '/v1/health', {}, undefined, 2_000);
    expect(b.status).toBe(201);
    expect(seen.map((s) => [s.method, s.url, s.type])).toEqual([['POST', '/v1/sessions', 'application/json'], ['GET', '/v1/health', undefined]]);
    expect(seen[0]?.remote).toBe(seen[1]?.remote); // the same connection
    c.close();
  });

  it('reads a large answer that arrives in many chunks, whole and in order', async () => {
    const body = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => i % 251));
    const port = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': body.length });
      for (let i = 0; i < body.length; i += 10_000) res.write(body.subarray(i, i + 10_000));
      res.end();
    }));
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    for (let round = 0; round < 2; round++) {
      const a = await c.request('GET', '/big', {}, undefined, 5_000);
      expect(a.body.equals(body)).toBe(true);
    }
    c.close();
  });

  it('reads a body without a length up to the end of the connection, and then is closed', async () => {
    const port = await rawPeer(() => 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end', { end: true });
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    const a = await c.request('GET', '/', {}, undefined, 2_000);
    expect([a.status, a.body.toString()]).toEqual([200, 'until the end']);
    expect(c.idle).toBe(false);
  });

  it('refuses chunked answers, bad status lines, answers over the limit, header floods and bytes after the answer', async () => {
    const cases: [string | Buffer, string, number?][] = [
      ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 'bad_answer'],
      ['HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n', 'bad_answer'],
      ['SSH-2.0-OpenSSH\r\n\r\n', 'bad_answer'],
      ['HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n', 'bad_answer'],
      ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n', 'bad_answer'],
      ['HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n', 'too_large', 10],
      [`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70 * 1024)}`, 'bad_answer'],
    ];
    for (const [answer, kind, max] of cases) {
      const port = await rawPeer(() => answer);
      const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
      expect(await kindOf(c.request('GET', '/', {}, undefined, 2_000, max))).toBe(kind);
      expect(c.idle).toBe(false);
    }
    const port = await rawPeer(() => 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA');
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    expect((await c.request('GET', '/', {}, undefined, 2_000)).body.toString()).toBe('ok');
    expect(c.idle).toBe(false); // smuggled bytes: never reused
  });

  it('times out on a silent peer, and says a refused connection is unreachable', async () => {
    const port = await listen(createNetServer((s) => s.on('error', () => {})));
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    expect(await kindOf(c.request('GET', '/', {}, undefined, 50))).toBe('timeout');
    const free = await listen(createNetServer());
    await new Promise((r) => (servers.pop() as NetServer).close(r));
    expect(await kindOf(Http1Connection.open({ host: '127.0.0.1', port: free }, 2_000))).toBe('unreachable');
  });

  it('refuses header injection through a header value or the path', async () => {
    const port = await rawPeer(() => 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    const c = await Http1Connection.open({ host: '127.0.0.1', port }, 2_000);
    expect(await kindOf(c.request('GET', '/', { 'x-a': 'b\r\nx-evil: 1' }, undefined, 2_000))).toBe('bad_answer');
    expect(await kindOf(c.request('GET', '/ HTTP/1.1\r\nx: y', {}, undefined, 2_000))).toBe('bad_answer');
    expect((await c.request('GET', '/', {}, undefined, 2_000)).status).toBe(200);
  });
});

describe('Http1Pool', () => {
  it('sends again, once, when a reused connection ends before a byte of the answer (the peer closed it as it was reused)', async () => {
    let connections = 0;
    let requests = 0;
    const port = await listen(createNetServer((sock: Socket) => {
      connections += 1;
      let onThis = 0;
      let acc = '';
      sock.on('data', (d) => {
        acc += d.toString('latin1');
        if (!acc.includes('\r\n\r\n')) return;
        acc = '';
        requests += 1;
        onThis += 1;
        if (onThis === 2) sock.destroy(); // the second request on a connection: closed unanswered
        else sock.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      });
      sock.on('error', () => {});
    }));
    const pool = new Http1Pool({ host: '127.0.0.1', port }, { idleMs: 30_000 });
    expect((await pool.request('GET', '/', {}, undefined, 2_000)).body.toString()).toBe('ok');
    expect((await pool.request('GET', '/', {}, undefined, 2_000)).body.toString()).toBe('ok');
    expect([connections, requests]).toEqual([2, 3]);
    pool.close();
  });

  it('reuses one connection, and leaves out a connection the peer closed while it was idle', async () => {
    const sockets = new Set<string>();
    const server = createHttpServer((req, res) => {
      sockets.add(`${req.socket.remotePort}`);
      res.writeHead(200, { 'content-length': 2 });
      res.end('ok');
    });
    server.keepAliveTimeout = 60_000;
    const port = await listen(server);
    const pool = new Http1Pool({ host: '127.0.0.1', port }, { idleMs: 30_000 });
    for (let i = 0; i < 5; i++) expect((await pool.request('GET', '/', {}, undefined, 2_000)).status).toBe(200);
    expect(sockets.size).toBe(1);
    server.closeIdleConnections(); // the peer drops the idle connection; the pool does not know yet
    await new Promise((r) => setTimeout(r, 20));
    expect((await pool.request('POST', '/', {}, Buffer.from('{}'), 2_000)).status).toBe(200);
    expect(sockets.size).toBe(2);
    pool.close();
  });

  it('does not resend a request on a fresh connection that fails', async () => {
    let requests = 0;
    const port = await rawPeer(() => {
      requests += 1;
      return Buffer.alloc(0);
    }, { end: true });
    const pool = new Http1Pool({ host: '127.0.0.1', port }, { idleMs: 30_000 });
    expect(await kindOf(pool.request('POST', '/', {}, Buffer.from('{}'), 2_000))).toBe('unreachable');
    expect(requests).toBe(1);
  });
});
