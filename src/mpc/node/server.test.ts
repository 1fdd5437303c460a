import { describe, expect, it } from 'vitest';
import { startNodeServer } from './server.js';
import type { NodeService, SessionStep } from './service.js';

/** A stand-in service whose session start spent something whose disk write settles when the test says. */
function stubService(durable: () => Promise<void>): { service: NodeService; started: number[] } {
  const started: number[] = [];
  const service = {
    coordinatorKeys: null,
    prepareSession: async () => {},
    startSession: (): SessionStep => {
      started.push(Date.now());
      return { envelopes: [{ secret: 'share' } as never], done: false, durable: durable() };
    },
  } as unknown as NodeService;
  return { service, started };
}

async function post(url: string): Promise<{ status: number; body: string; at: number }> {
  const r = await fetch(`${url}/v1/sessions`, { method: 'POST', body: JSON.stringify({ kind: 'sign' }), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: await r.text(), at: Date.now() };
}

describe('node server: a spent presignature is on disk before its share leaves', () => {
  it('answers only after the spend is durable', async () => {
    let settle = (): void => {};
    const { service } = stubService(() => new Promise<void>((r) => (settle = r)));
    const server = await startNodeServer(service, { host: '127.0.0.1', port: 0 });
    try {
      let answered = false;
      const answer = post(server.url).then((a) => ((answered = true), a));
      await new Promise((r) => setTimeout(r, 100));
      expect(answered).toBe(false); // the write is not durable yet: nothing has left
      settle();
      const a = await answer;
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body)).toEqual({ envelopes: [{ secret: 'share' }], done: false });
    } finally {
      await server.close();
    }
  });

  it('sends no share when the write fails', async () => {
    const { service } = stubService(() => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })));
    const server = await startNodeServer(service, { host: '127.0.0.1', port: 0 });
    try {
      const a = await post(server.url);
      expect(a.status).toBe(500);
      expect(a.body).not.toContain('share');
      expect(JSON.parse(a.body)).toEqual({ code: 'internal', message: 'internal error' });
    } finally {
      await server.close();
    }
  });
});

describe('node server: request bodies', () => {
  it('refuses a body over 4 MiB with 413 without calling the service, then serves the next request; a query string does not change the route', async () => {
    let calls = 0;
    const { service } = stubService(() => Promise.resolve());
    const counting = { ...service, coordinatorKeys: null, prepareSession: async () => {}, startSession: (b: unknown) => (calls++, service.startSession(b)) } as unknown as NodeService;
    const server = await startNodeServer(counting, { host: '127.0.0.1', port: 0 });
    try {
      const big = await fetch(`${server.url}/v1/sessions`, { method: 'POST', body: 'x'.repeat(4 * 1024 * 1024 + 1) }).catch((e: Error) => e);
      if (!(big instanceof Error)) {
        expect(big.status).toBe(413);
        expect(((await big.json()) as { code: string }).code).toBe('node_bad_request');
      } // else the server stopped reading and the client saw the connection end: refused either way
      expect(calls).toBe(0);
      const bad = await fetch(`${server.url}/v1/sessions?x=1`, { method: 'POST', body: '{not json' });
      expect(bad.status).toBe(400);
      const ok = await fetch(`${server.url}/v1/sessions?x=1`, { method: 'POST', body: JSON.stringify({ kind: 'sign' }) });
      expect(ok.status).toBe(200);
      expect(calls).toBe(1);
      expect((await fetch(`${server.url}/v1/nothing`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
