import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bitcoinFacts, btcToSats } from './broadcast.js';
import { endpointLabel, httpJsonRpc, RpcError } from './rpc.js';

let server: Server;
let port: number;
const seen: { auth: string | undefined; body: { method: string; params: unknown[]; jsonrpc: string } }[] = [];

async function read(req: IncomingMessage): Promise<string> {
  let s = '';
  for await (const c of req) s += String(c);
  return s;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void read(req).then((text) => {
      const body = JSON.parse(text) as { id: number; method: string; params: unknown[]; jsonrpc: string };
      seen.push({ auth: req.headers.authorization, body });
      res.setHeader('content-type', 'application/json');
      if (body.method === 'fails') return res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -26, message: 'txn-mempool-conflict' } }));
      if (body.method === 'http500') {
        res.statusCode = 503;
        return res.end('busy');
      }
      res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { echo: body.params } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('httpJsonRpc', () => {
  it('posts JSON-RPC 2.0 and returns the result; URL credentials become a Basic header and never reach the label', async () => {
    const rpc = httpJsonRpc(`http://alice:s%3Acret@127.0.0.1:${port}/wallet/x`);
    expect(await rpc.request('getblockcount', [1, 'a'])).toEqual({ echo: [1, 'a'] });
    expect(seen.at(-1)?.body).toMatchObject({ jsonrpc: '2.0', method: 'getblockcount', params: [1, 'a'] });
    expect(seen.at(-1)?.auth).toBe(`Basic ${Buffer.from('alice:s:cret').toString('base64')}`);
    expect(endpointLabel(`http://alice:s%3Acret@127.0.0.1:${port}/wallet/x`)).toBe(`http://127.0.0.1:${port}`);
  });

  it('a JSON-RPC error is a refusal with its code; HTTP 5xx and a closed port are unreachable', async () => {
    const rpc = httpJsonRpc(`http://127.0.0.1:${port}`);
    await expect(rpc.request('fails', [])).rejects.toMatchObject({ code: 'rpc_error', unreachable: false, rpcCode: -26, message: 'fails: txn-mempool-conflict' });
    await expect(rpc.request('http500', [])).rejects.toMatchObject({ code: 'rpc_unreachable', unreachable: true });
    const down = httpJsonRpc('http://127.0.0.1:9', { timeoutMs: 2000 });
    const err = await down.request('x', []).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ unreachable: true });
  });
});

describe('bitcoinFacts (scantxoutset answers in the shape Bitcoin Core documents)', () => {
  it('turns BTC amounts into exact satoshis and keeps confirmed outputs only', async () => {
    const txid = 'ab'.repeat(32);
    const calls: unknown[][] = [];
    const facts = bitcoinFacts({
      async request(method, params) {
        calls.push([method, ...params]);
        return {
          success: true, txouts: 3, height: 800_000, total_amount: 0.3,
          unspents: [
            { txid, vout: 0, scriptPubKey: '0014', desc: 'addr(x)', amount: 0.29, coinbase: false, height: 799_000 },
            { txid, vout: 1, scriptPubKey: '0014', desc: 'addr(x)', amount: 0.00000001, coinbase: false, height: 799_001 },
            { txid, vout: 2, scriptPubKey: '0014', desc: 'addr(x)', amount: 0.01, coinbase: false, height: 0 },
          ],
        };
      },
    }, 'regtest');
    expect(await facts.utxos('bcrt1qexample')).toEqual([{ txid, vout: 0, amount: 29_000_000n }, { txid, vout: 1, amount: 1n }]);
    expect(calls).toEqual([['scantxoutset', 'start', ['addr(bcrt1qexample)']]]);
    expect(btcToSats(20_999_999.9769)).toBe(2_099_999_997_690_000n);
    expect(() => btcToSats('1')).toThrow(RpcError);
  });
});
