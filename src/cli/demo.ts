/**
 * `custos demo`: everything on the embedded default in one process. Creates a demo customer,
 * funded hot-wallet accounts and an API credential, submits sample withdrawals through the real
 * HTTP API with the client SDK, prints their decisions, verifies the audit chain, then keeps
 * serving with the URL and credential printed (unless --no-serve).
 */
import { randomUUID } from 'node:crypto';
import { demoReviewAndApprove } from '../approvals/demo-flow.js';
import { demoThresholdSigning } from './demo-signing.js';
import { sealPending, verifyChain } from '../audit/chain.js';
import { CustosApiError, CustosClient, type WithdrawalBody, type WithdrawalRequestBody } from '../client/index.js';
import { createCredential } from '../gateway/credentials.js';
import { rateLimitSettingsFromEnv, startServer, webhooksFromEnv } from '../gateway/server.js';
import { seedStarter } from '../store/seed.js';
import { getWithdrawal } from '../store/withdrawals.js';
import { dataDir, describeStore, openConfiguredDb, table, type CommonOptions } from './env.js';

interface Sample {
  label: string;
  body: WithdrawalRequestBody;
  key?: string;
}

export async function runDemo(opts: CommonOptions & { port?: number; serve: boolean }): Promise<void> {
  const db = await openConfiguredDb(opts);
  console.log(`custos demo: store ${describeStore(db, opts)}`);
  await seedStarter(db, { customerId: 'demo', customerName: 'Demo Customer' });
  const cred = await createCredential(db, { customerId: 'demo', scopes: ['withdraw', 'read'], label: 'demo' });
  const port = opts.port ?? Number(process.env.CUSTOS_PORT ?? 8080);
  const serverOpts = {
    db,
    rateLimits: rateLimitSettingsFromEnv(),
    webhooks: webhooksFromEnv(),
    checkpoints: { dataDir: dataDir(opts) },
    alertLog: (line: Record<string, unknown>) => {
      const a = line.alert as { severity?: string; summary?: string } | undefined;
      console.log(`  [security alert] ${a?.severity ?? ''}: ${a?.summary ?? JSON.stringify(line)}`);
    },
  };
  const server = await startServer({ ...serverOpts, port, host: process.env.CUSTOS_HOST ?? '127.0.0.1' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE') throw err;
    console.log(`port ${port} is in use; taking a free port instead`);
    return startServer({ ...serverOpts, port: 0 });
  });
  // An error on the way must not leave the server and the database open (the process would hang).
  try {
    const client = new CustosClient({ baseUrl: server.url, credentialId: cred.credentialId, privateKey: cred.privateKey, retries: 1 });

    const dupKey = `demo-dup-${randomUUID()}`;
    const samples: Sample[] = [
      { label: 'ETH to a checksummed address', body: { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '1.25' } },
      { label: 'BTC to a bech32 address', body: { chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.05', fee: '0.00002' } },
      { label: 'SOL transfer', body: { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '12.5' } },
      { label: 'bad address (EIP-55 checksum)', body: { chain: 'ethereum', asset: 'ETH', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD', amount: '1' } },
      { label: 'look-alike address (Cyrillic а)', body: { chain: 'bitcoin', asset: 'BTC', to: 'bc1qаr0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.01' } },
      { label: 'bad fee (fee-drain guard)', body: { chain: 'bitcoin', asset: 'BTC', to: 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', amount: '0.01', fee: '0.5' } },
      { label: 'sanctioned destination (OFAC SDN)', body: { chain: 'ethereum', asset: 'ETH', to: '0x01e2919679362dfbc9ee1644ba9c6da6d6245bb1', amount: '0.5' } },
      { label: 'over-precise amount', body: { chain: 'ethereum', asset: 'USDC', to: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', amount: '10.0000001' } },
      { label: 'idempotency key, first use', body: { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '1' }, key: dupKey },
      { label: 'same key, same body (replay)', body: { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '1' }, key: dupKey },
      { label: 'same key, different body', body: { chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: '2' }, key: dupKey },
    ];

    const rows: string[][] = [];
    for (const s of samples) {
      try {
        const w = await client.submitWithdrawal(s.body, s.key ?? randomUUID());
        rows.push([s.label, '2xx', shortId(w), w.status, summarize(w)]);
      } catch (err) {
        if (!(err instanceof CustosApiError)) throw err;
        const w = err.problem.withdrawal;
        rows.push([s.label, String(err.status), w ? shortId(w) : '-', w?.status ?? '-', w ? summarize(w) : `${err.code}: ${err.problem.detail}`]);
      }
    }
    console.log('\nSample withdrawals through the signed HTTP API:\n');
    console.log(table(['withdrawal', 'http', 'id', 'status', 'decision'], rows));

    console.log('\nA large transfer to a new address goes to the review queue; approvers decide with their approval keys (2 of 3):');
    const review = await demoReviewAndApprove(db, { baseUrl: server.url, submitter: cred });
    for (const line of review.lines) console.log(`  ${line}`);

    if (server.limiter) await burst(db, server.url);

    while ((await sealPending(db)) > 0);
    const chain = await verifyChain(db);
    console.log(`\nAudit chain: ${chain.ok ? `${chain.entries} entries verified, head ${chain.head?.slice(0, 16)}…` : `BROKEN at ${chain.brokenSeq}: ${chain.reason}`}`);
    const { demoAuditProof } = await import('./audit-demo.js');
    for (const line of await demoAuditProof(db, dataDir(opts))) console.log(line);

    const reviewed = await getWithdrawal(db, review.withdrawalId);
    if (reviewed?.status === 'approved') {
      console.log(`\nThe reviewed SOL withdrawal ${reviewed.id}, approved by 2 of 3, signed 3-of-5 by five signing-node processes:`);
      for (const line of await demoThresholdSigning({ db, dataDir: dataDir(opts), withdrawal: reviewed, approverKeys: review.approverKeys })) {
        console.log(`  ${line}`);
      }
    }
  } catch (err) {
    await server.close().catch(() => {});
    await db.close().catch(() => {});
    throw err;
  }

  if (!opts.serve) {
    await server.close();
    await db.close();
    return;
  }
  console.log(`
custos is serving at ${server.url}
  API reference   ${server.url}/docs   (OpenAPI: ${server.url}/openapi.json)
  credential id   ${cred.credentialId}
  private key     ${cred.privateKey}   (demo only: shown once, never stored)

Try:  CUSTOS_URL=${server.url} CUSTOS_CREDENTIAL_ID=${cred.credentialId} CUSTOS_PRIVATE_KEY=${cred.privateKey} \\
        npx custos api GET /v1/withdrawals?status=approved
Stop with Ctrl-C.`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await db.close();
}

/** A misbehaving batch job: 15 submissions at once from one credential. */
async function burst(db: Parameters<typeof createCredential>[0], url: string): Promise<void> {
  const cred = await createCredential(db, { customerId: 'demo', scopes: ['withdraw', 'read'], label: 'demo burst' });
  const client = new CustosClient({ baseUrl: url, credentialId: cred.credentialId, privateKey: cred.privateKey, retries: 1 });
  console.log(`\nA burst of 25 simultaneous submissions from credential ${cred.credentialId} (limit: 10/s burst, 100/min):`);
  const results = await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      client
        .submitWithdrawal({ chain: 'solana', asset: 'SOL', to: '83astBRguLMdt2h5U1Tpdq5tjFoJ6noeGwaY3mDLVcri', amount: `0.00${i + 1}` })
        .then(() => 'accepted')
        .catch((err: unknown) => (err instanceof CustosApiError ? `${err.status} ${err.code}` : 'error')),
    ),
  );
  const counts = new Map<string, number>();
  for (const r of results) counts.set(r, (counts.get(r) ?? 0) + 1);
  console.log(`  ${[...counts].map(([k, n]) => `${n} × ${k}`).join(', ')}`);
  const after = await client.getWithdrawal('wd_none').catch((err: unknown) => (err instanceof CustosApiError ? `${err.status} ${err.code}` : 'error'));
  console.log(`  a read right after: ${typeof after === 'string' ? after : 'allowed'} (the credential is in its cooling period; it re-enables by itself)`);
  await new Promise((r) => setTimeout(r, 600)); // the alert dispatcher runs every 250 ms
}

function shortId(w: WithdrawalBody): string {
  return `${w.id.slice(0, 11)}…`;
}

function summarize(w: WithdrawalBody): string {
  return w.decisions.map((d) => `${d.stage}:${d.outcome} ${d.reasons.map((r) => r.code).join(',')}`).join(' | ');
}
