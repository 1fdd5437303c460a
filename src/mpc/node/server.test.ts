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
