/**
 * The signing worker: takes `approved` withdrawals to `signed`. Each round it claims approved rows
 * (and `signing` rows whose lease ran out: a crashed or deferred worker's) with `FOR UPDATE SKIP
 * LOCKED`, moves them to `signing` under a lease (audited, same transaction), builds the unsigned
 * transaction from the account's threshold wallet, has it authorized, stores that plan once (every
 * later attempt signs the very same transaction: nodes bind a withdrawal to its digest; a Solana
 * plan keeps its blockhash's `lastValidBlockHeight` for the broadcast worker), runs the
 * coordinator session, assembles the signed transaction and stores it with its hash while moving
 * to `signed` (audited). A refusal (by the nodes, the chain module or the authorization) moves it
 * to `failed` with the reason; a transient failure (nodes down) keeps it `signing` and retries
 * after a back-off. A worker that dies after the nodes signed leaves a plan the next one resumes:
 * the nodes refuse a second signature and hand out the one they made (`recoverSignature`).
 *
 * The decisions (`classifySigningError`, `retryDelay`) are pure; the class is the shell.
 *
 * @example
 *   const worker = new SigningWorker({ db, coordinator, authorize, facts: { solana: { recentBlockhash } } });
 *   const report = await worker.runOnce();   // { signed: [...], failed: [...], deferred: [...] }
 *   const stop = worker.start(1_000);        // every second until stop()
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { appendAudit } from '../../audit/chain.js';
import { buildWithdrawalTx, type ChainFacts } from '../../chains/plan.js';
import { chainSignature } from '../../chains/signature.js';
import { assembleSigned } from '../../chains/transactions.js';
import { thresholdWallet, type ThresholdWallet } from '../../chains/wallet.js';
import type { Chain, Network } from '../../core/chain.js';
import { systemClock, type Clock } from '../../core/clock.js';
import type { Decision } from '../../core/decision.js';
import { CustosError } from '../../core/errors.js';
import { getAsset } from '../../store/accounts.js';
import type { Db } from '../../store/db.js';
import {
  accountKey, claimApprovedIds, claimStaleSigningIds, deferSigning, getOutbound, leaseOutbound, recordSigned, recordSigningFailure,
  replaceAuthorization, savePlan,
} from '../../store/outbound.js';
import { getWithdrawal, transitionWithdrawal, type WithdrawalRecord } from '../../store/withdrawals.js';
import { chainDigest } from '../node/chain-digest.js';
import { parseSignedAuthorization, type DeriveDigest, type SignedAuthorization } from '../node/authorization.js';
import type { Coordinator, KeyInfo, SignResult } from './coordinator.js';

/** What the worker needs to have a transaction authorized (the policy service issues it). */
export interface AuthorizeRequest {
  readonly withdrawal: WithdrawalRecord;
  readonly keyId: string;
  readonly chain: Chain;
  readonly unsignedTx: Uint8Array;
  readonly digest: Uint8Array;
  readonly now: number;
}
export type Authorize = (req: AuthorizeRequest) => Promise<SignedAuthorization>;

/** What happens to a withdrawal after a failed signing step. */
export type SigningOutcome =
  | { readonly kind: 'refused'; readonly code: string; readonly message: string }
  | { readonly kind: 'transient'; readonly code: string; readonly message: string }
  | { readonly kind: 'recover' }
  | { readonly kind: 'reauthorize' };

/** Refusals that a retry would repeat: the withdrawal fails with the reason. */
const REFUSED = /^(authorization_|withdrawal_|tx_|outbound_|wallet_|address_|mpc_unsupported_scheme$|mpc_unknown_key$|node_unknown_key$|node_bad_signers$)/;

/**
 * Classifies a failure of planning, authorizing or signing. Nodes that already signed this
 * withdrawal: fetch that signature. An expired authorization: reissue it for the same transaction.
 * Refusals by policy, nodes or chain rules: final. Anything else (nodes down, timeouts, a session
 * that aborted): transient.
 */
export function classifySigningError(err: unknown): SigningOutcome {
  if (err instanceof CustosError) {
    if (err.code === 'withdrawal_already_signed') return { kind: 'recover' };
    if (err.code === 'authorization_expired') return { kind: 'reauthorize' };
    if (REFUSED.test(err.code)) return { kind: 'refused', code: err.code, message: err.message };
    return { kind: 'transient', code: err.code, message: err.message };
  }
  return { kind: 'transient', code: 'signing_error', message: err instanceof Error ? err.name : 'unexpected failure' };
}

/** Back-off before retrying after the n-th transient failure (1-based): base · 2^(n−1), at most `max`. */
export function retryDelay(attempt: number, baseMs = 2_000, maxMs = 5 * 60_000): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
}

export interface SigningWorkerOptions {
  readonly db: Db;
  readonly coordinator: Pick<Coordinator, 'sign' | 'recoverSignature' | 'listKeys'> & Partial<Pick<Coordinator, 'settle'>>;
  readonly authorize: Authorize;
  /** Chain facts (blockhash, UTXOs, chain id): the worker serves exactly the chains configured here. */
  readonly facts: ChainFacts;
  /** The digest derivation the nodes use (default: `chainDigest`). */
  readonly deriveDigest?: DeriveDigest;
  readonly clock?: Clock;
  /** Lease of a claimed withdrawal (default 60 s): another worker takes it over after that. */
  readonly leaseMs?: number;
  /** Base of the back-off after a transient failure (default 2 s). */
  readonly retryBaseMs?: number;
  /** Withdrawals claimed per round (default 16). */
  readonly batch?: number;
  /** Withdrawals signed at once (default 4). */
  readonly concurrency?: number;
  /** Only these withdrawals (an operator signing one by hand; the demo). Default: every eligible one. */
  readonly only?: readonly string[];
  /** This worker's name in leases and audit entries (default host, pid and a random suffix). */
  readonly owner?: string;
  readonly onEvent?: (e: SigningEvent) => void;
  /** Fault tests only: called at named points; may never return (the test kills the process). */
  readonly testHook?: (point: 'claimed' | 'planned' | 'signed-by-nodes', withdrawalId: string) => Promise<void>;
}

export type SigningEvent =
  | { readonly kind: 'signed'; readonly withdrawalId: string; readonly txHash: string; readonly raw: Uint8Array; readonly signers: readonly string[]; readonly recovered: boolean }
  | { readonly kind: 'failed'; readonly withdrawalId: string; readonly code: string; readonly message: string }
  | { readonly kind: 'deferred'; readonly withdrawalId: string; readonly code: string; readonly message: string; readonly retryAt: number };

export interface SigningReport {
  readonly claimed: string[];
  readonly signed: string[];
  readonly failed: string[];
  readonly deferred: string[];
}

interface Plan {
  readonly keyId: string;
  readonly unsignedTx: Uint8Array;
  readonly digest: Uint8Array;
  authorization: SignedAuthorization;
  /** Solana: the last block height at which the transaction can land (kept for the broadcast worker). */
  readonly lastValidBlockHeight?: bigint;
}

const ACTOR = 'signing-worker';

export class SigningWorker {
  private readonly clock: Clock;
  readonly owner: string;
  private readonly deriveDigest: DeriveDigest;
  private readonly keyCache = new Map<string, KeyInfo>();
  private running: Promise<SigningReport> | null = null;

  constructor(private readonly o: SigningWorkerOptions) {
    this.clock = o.clock ?? systemClock;
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.deriveDigest = o.deriveDigest ?? chainDigest;
  }

  /** The chains this worker serves (those with facts configured). */
  chains(): Chain[] {
    return (['ethereum', 'bitcoin', 'solana'] as const).filter((c) => this.o.facts[c] !== undefined);
  }

  /** One round: claim, then sign each claimed withdrawal. Rounds never overlap within a worker. */
  runOnce(): Promise<SigningReport> {
    this.running ??= this.round().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Runs a round every `intervalMs` until the returned function is called (it waits for the round in flight). */
  start(intervalMs = 1_000, onError?: (err: unknown) => void): () => Promise<void> {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      if (stopped) return;
      try {
        const r = await this.runOnce();
        // A full batch: go again at once.
        if (!stopped && r.claimed.length >= (this.o.batch ?? 16)) return void setImmediate(() => void tick());
      } catch (err) {
        onError?.(err);
      }
      if (!stopped) timer = setTimeout(() => void tick(), intervalMs);
    };
    timer = setTimeout(() => void tick(), 0);
    return async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await this.running?.catch(() => undefined);
    };
  }

  private async round(): Promise<SigningReport> {
    const claimed = await this.claim();
    const report: SigningReport = { claimed, signed: [], failed: [], deferred: [] };
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < claimed.length) {
        const id = claimed[next++] as string;
        const r = await this.process(id);
        if (r) report[r].push(id);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency ?? 4, claimed.length) }, lane));
    return report;
  }

  /** Approved rows to `signing` under this worker's lease, and expired leases taken over. */
  private claim(): Promise<string[]> {
    const chains = this.chains();
    const batch = this.o.batch ?? 16;
    return this.o.db.tx(async (q) => {
      const now = this.clock.now();
      const leaseUntil = now + (this.o.leaseMs ?? 60_000);
      const fresh = await claimApprovedIds(q, { limit: batch, chains, only: this.o.only });
      for (const id of fresh) {
        await transitionWithdrawal(q, id, 'approved', 'signing', null, now);
        await leaseOutbound(q, id, { owner: this.owner, leaseUntil, now });
        await appendAudit(q, { at: now, actor: ACTOR, action: 'withdrawal.transition', subject: `withdrawal:${id}`, data: { from: 'approved', to: 'signing', worker: this.owner } });
      }
      const stale = await claimStaleSigningIds(q, { limit: batch - fresh.length, now, chains, only: this.o.only });
      for (const id of stale) {
        const prev = await getOutbound(q, id);
        await leaseOutbound(q, id, { owner: this.owner, leaseUntil, now });
        if (prev?.leaseOwner !== this.owner) {
          await appendAudit(q, {
            at: now, actor: ACTOR, action: 'withdrawal.signing_resumed', subject: `withdrawal:${id}`,
            data: { worker: this.owner, previousWorker: prev?.leaseOwner ?? null, planned: prev?.unsignedTx != null, lastError: prev?.lastError ?? null },
          });
        }
      }
      return [...fresh, ...stale];
    });
  }

  private async process(id: string): Promise<'signed' | 'failed' | 'deferred' | null> {
    await this.o.testHook?.('claimed', id);
    const w = await getWithdrawal(this.o.db, id);
    const ob = await getOutbound(this.o.db, id);
    if (!w || w.status !== 'signing' || ob?.leaseOwner !== this.owner) return null;
    let plan: Plan;
    let wallet: ThresholdWallet;
    let network: Network;
    try {
      const ctx = await this.context(w);
      wallet = ctx.wallet;
      network = ctx.network;
      if (ob.unsignedTx && ob.digest && ob.keyId) {
        plan = { keyId: ob.keyId, unsignedTx: ob.unsignedTx, digest: ob.digest, authorization: parseSignedAuthorization(ob.authorization) };
      } else {
        plan = await this.plan(w, ctx.keyId, wallet);
        const saved = await this.o.db.tx((q) => savePlan(q, id, this.owner, plan, this.clock.now()));
        if (!saved) return null; // the lease moved on
      }
    } catch (err) {
      return this.settle(w, classifySigningError(err), ob.signAttempts);
    }
    await this.o.testHook?.('planned', id);

    let result: SignResult | null = null;
    let recovered = false;
    for (let step = 0; step < 3 && !result; step++) {
      try {
        result = await this.o.coordinator.sign({ keyId: plan.keyId, authorization: plan.authorization }, this.deriveDigest);
      } catch (err) {
        const outcome = classifySigningError(err);
        if (outcome.kind === 'reauthorize' && step < 2) {
          try {
            plan.authorization = await this.o.authorize({
              withdrawal: w, keyId: plan.keyId, chain: w.chain, unsignedTx: plan.unsignedTx, digest: plan.digest, now: this.clock.now(),
            });
            const ok = await this.o.db.tx((q) => replaceAuthorization(q, id, this.owner, plan.authorization, this.clock.now()));
            if (!ok) return null;
            continue;
          } catch (e) {
            return this.settle(w, classifySigningError(e), ob.signAttempts);
          }
        }
        if (outcome.kind === 'recover') {
          try {
            result = await this.o.coordinator.recoverSignature({ keyId: plan.keyId, authorization: plan.authorization }, this.deriveDigest);
          } catch (e) {
            return this.settle(w, classifySigningError(e), ob.signAttempts);
          }
          if (!result) {
            return this.settle(w, { kind: 'transient', code: 'signature_not_recovered', message: 'the nodes signed this withdrawal but none that holds the signature answers' }, ob.signAttempts);
          }
          recovered = true;
          break;
        }
        return this.settle(w, outcome.kind === 'reauthorize' ? { kind: 'refused', code: 'authorization_expired', message: 'the reissued authorization expired again' } : outcome, ob.signAttempts);
      }
    }
    if (!result) return null;
    // The coordinator has the signature; the nodes record it in the background. Wait for that
    // (this withdrawal's only, not other workers') before going on, so that a worker killed before
    // its own record can recover the signature from the nodes instead of asking for a second one.
    await this.o.coordinator.settle?.(id);
    await this.o.testHook?.('signed-by-nodes', id);

    let raw: Uint8Array;
    let txHash: string;
    try {
      const kind = w.chain === 'ethereum' || wallet.bitcoin?.type === 'p2wpkh' ? 'ecdsa' : 'raw';
      const derived = this.deriveDigest(w.chain, plan.unsignedTx);
      const sig = chainSignature(w.chain, result.signature, result.publicKey, derived.digest, kind);
      const signed = assembleSigned({ chain: w.chain, bytes: plan.unsignedTx }, [sig], network);
      raw = signed.raw;
      txHash = signed.id;
    } catch (err) {
      return this.settle(w, classifySigningError(err), ob.signAttempts);
    }
    const signers = result.signers;
    const done = await this.o.db.tx(async (q) => {
      const now = this.clock.now();
      if (!(await recordSigned(q, id, this.owner, { rawTx: raw, txHash, signers, now }))) return false;
      const decision: Decision = {
        stage: 'signing', outcome: 'pass',
        reasons: [{ code: 'signed', message: `signed by ${signers.join(', ')} with key ${plan.keyId}${recovered ? ' (signature recovered from the nodes after an interrupted session)' : ''}` }],
      };
      await transitionWithdrawal(q, id, 'signing', 'signed', decision, now);
      await appendAudit(q, {
        at: now, actor: ACTOR, action: 'withdrawal.transition', subject: `withdrawal:${id}`,
        data: { from: 'signing', to: 'signed', txHash, keyId: plan.keyId, signers, session: result.session, recovered, worker: this.owner },
      });
      return true;
    });
    if (!done) return null;
    this.o.onEvent?.({ kind: 'signed', withdrawalId: id, txHash, raw, signers, recovered });
    return 'signed';
  }

  /** Resolves the account's key and wallet, and the asset's network. */
  private async context(w: WithdrawalRecord): Promise<{ keyId: string; wallet: ThresholdWallet; network: Network }> {
    if (!w.accountId) throw new CustosError('outbound_no_account', 'the withdrawal has no hot-wallet account', 422);
    const account = await accountKey(this.o.db, w.accountId);
    if (!account?.keyId) throw new CustosError('outbound_no_key', `account ${w.accountId} has no threshold key bound`, 422);
    const asset = await getAsset(this.o.db, w.chain, w.asset);
    if (!asset) throw new CustosError('outbound_unknown_asset', `no asset ${w.chain}/${w.asset}`, 422);
    const key = await this.key(account.keyId);
    const wallet = thresholdWallet(w.chain, asset.network, { suite: key.suite, publicKey: hexToBytes(key.publicKey) });
    if (wallet.address !== account.address) {
      throw new CustosError('outbound_wallet_mismatch', `account ${w.accountId} holds ${account.address}, but key ${account.keyId} controls ${wallet.address}`, 422);
    }
    return { keyId: account.keyId, wallet, network: asset.network };
  }

  private async key(keyId: string): Promise<KeyInfo> {
    let k = this.keyCache.get(keyId);
    if (!k) {
      for (const info of await this.o.coordinator.listKeys()) this.keyCache.set(info.keyId, info);
      k = this.keyCache.get(keyId);
    }
    if (!k) throw new CustosError('mpc_nodes_down', `no reachable node holds key ${keyId}`, 503);
    return k;
  }

  private async plan(w: WithdrawalRecord, keyId: string, wallet: ThresholdWallet): Promise<Plan> {
    if (w.amount === null || w.fee === null) throw new CustosError('outbound_incomplete', 'the withdrawal has no parsed amount or fee', 422);
    const unsigned = await buildWithdrawalTx(
      { id: w.id, chain: w.chain, asset: w.asset, to: w.to, amount: w.amount, fee: w.fee, nonce: w.nonce }, wallet, this.o.facts,
    );
    const derived = this.deriveDigest(w.chain, unsigned.bytes);
    const authorization = await this.o.authorize({ withdrawal: w, keyId, chain: w.chain, unsignedTx: unsigned.bytes, digest: derived.digest, now: this.clock.now() });
    if (authorization.authorization.digest !== bytesToHex(derived.digest) || authorization.authorization.withdrawalId !== w.id) {
      throw new CustosError('authorization_mismatch', 'the issued authorization names another transaction', 500);
    }
    return {
      keyId, unsignedTx: unsigned.bytes, digest: derived.digest, authorization,
      ...(unsigned.lastValidBlockHeight !== undefined ? { lastValidBlockHeight: unsigned.lastValidBlockHeight } : {}),
    };
  }

  private async settle(w: WithdrawalRecord, outcome: SigningOutcome, attempts: number): Promise<'failed' | 'deferred' | null> {
    const now = this.clock.now();
    if (outcome.kind === 'refused') {
      const ok = await this.o.db.tx(async (q) => {
        const ob = await getOutbound(q, w.id);
        if (ob?.leaseOwner !== this.owner) return false;
        await recordSigningFailure(q, w.id, { error: `${outcome.code}: ${outcome.message}`, now });
        const decision: Decision = { stage: 'signing', outcome: 'reject', reasons: [{ code: outcome.code, message: outcome.message }] };
        await transitionWithdrawal(q, w.id, 'signing', 'failed', decision, now);
        await appendAudit(q, {
          at: now, actor: ACTOR, action: 'withdrawal.transition', subject: `withdrawal:${w.id}`,
          data: { from: 'signing', to: 'failed', code: outcome.code, reason: outcome.message, worker: this.owner },
        });
        return true;
      });
      if (!ok) return null;
      this.o.onEvent?.({ kind: 'failed', withdrawalId: w.id, code: outcome.code, message: outcome.message });
      return 'failed';
    }
    const code = outcome.kind === 'transient' ? outcome.code : 'signing_error';
    const message = outcome.kind === 'transient' ? outcome.message : 'unexpected signing outcome';
    const retryAt = now + retryDelay(attempts + 1, this.o.retryBaseMs);
    const ok = await this.o.db.tx((q) => deferSigning(q, w.id, this.owner, { error: `${code}: ${message}`, retryAt, now }));
    if (!ok) return null;
    this.o.onEvent?.({ kind: 'deferred', withdrawalId: w.id, code, message, retryAt });
    return 'deferred';
  }
}
