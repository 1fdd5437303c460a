/**
 * Stage 1, syntax: a pure function over the submitted withdrawal and the context the
 * orchestrator loaded (asset, hot-wallet account). It checks the destination address format for
 * the chain and network, the amount (positive, within the asset's decimals, and with the fee where
 * it is paid in the same coin within the account's available balance: balance less what withdrawals
 * in flight hold), fee adequacy (a supplied fee must lie within the chain's [min, max]; an absent fee is
 * filled from the fee policy's default) and nonce sequencing for account-based chains (a supplied
 * nonce must be the account's next one). All failures are collected, each with a stable code.
 *
 * @example
 *   const r = syntaxStage({ chain: 'bitcoin', asset: 'BTC', to: 'bc1q…', amount: '0.1' }, { asset, account });
 *   r.decision.outcome // 'pass' | 'reject'
 */
import { validateAddress } from '../chains/address.js';
import { holdsOf, isAccountBased, NATIVE_ASSET, type Chain } from '../core/chain.js';
import { pass, reject, type Decision, type Reason } from '../core/decision.js';
import { isCustosError } from '../core/errors.js';
import { formatAmount, parseAmount } from '../core/money.js';
import type { Account, Asset } from '../store/accounts.js';

export interface WithdrawalRequest {
  chain: Chain;
  asset: string;
  to: string;
  amount: string;
  fee?: string | undefined;
  nonce?: number | undefined;
  memo?: string | undefined;
}

export interface SyntaxContext {
  asset: Asset | null;
  account: Account | null;
  /**
   * For a token (an asset that is not the chain's own coin): the chain's native account, which
   * pays the token's fee. A token withdrawal without it is refused (`fee_account_unknown`).
   */
  feeAccount?: Account | null;
}

export interface SyntaxResult {
  decision: Decision;
  /** Normalised destination (EIP-55, lowercase bech32, …) when the address is valid. */
  to: string;
  amount: bigint | null;
  fee: bigint | null;
  /** The nonce this withdrawal takes on an account-based chain when it passes. */
  nonce: bigint | null;
}

export function syntaxStage(req: WithdrawalRequest, ctx: SyntaxContext): SyntaxResult {
  const reasons: Reason[] = [];
  const { asset, account } = ctx;
  let to = req.to;
  let amount: bigint | null = null;
  let fee: bigint | null = null;
  let nonce: bigint | null = null;

  if (!asset) {
    reasons.push({ code: 'asset_unknown', message: `${req.asset} is not an asset custos handles on ${req.chain}` });
    return { decision: reject('syntax', reasons), to, amount, fee, nonce };
  }

  const addr = validateAddress(req.chain, asset.network, req.to);
  if (addr.ok) to = addr.normalized;
  else reasons.push({ code: addr.code, message: addr.message });

  try {
    amount = parseAmount(req.amount, asset.decimals, 'amount');
    if (amount === 0n) reasons.push({ code: 'amount_zero', message: 'amount must be greater than zero' });
  } catch (err) {
    reasons.push(reasonOf(err));
  }

  if (!account) {
    reasons.push({ code: 'account_unknown', message: `no hot-wallet account holds ${req.asset} on ${req.chain}` });
  }
  // The balance reason goes here, among the amount's, once the fee is known (below).
  const balanceAt = reasons.length;

  if (req.fee === undefined) {
    fee = asset.defaultFee;
  } else {
    try {
      fee = parseAmount(req.fee, asset.feeDecimals, 'fee');
      if (fee < asset.minFee) {
        reasons.push({
          code: 'fee_too_low',
          message: `fee ${req.fee} is below the ${req.chain} minimum of ${formatAmount(asset.minFee, asset.feeDecimals)}; the transaction would not be mined`,
        });
      } else if (fee > asset.maxFee) {
        reasons.push({
          code: 'fee_too_high',
          message: `fee ${req.fee} is above the ${req.chain} cap of ${formatAmount(asset.maxFee, asset.feeDecimals)} (a fee-drain guard)`,
        });
      }
    } catch (err) {
      reasons.push(reasonOf(err));
    }
  }

  if (account && amount !== null) {
    // What withdrawals in flight hold is not available (migration 011): the amount, and the fee
    // where it is paid in the same coin, must fit in what is left.
    const need = holdsOf(req.chain, asset.symbol, amount, fee).own;
    const available = account.balance - account.reserved;
    if (need > available) {
      const fees = need === amount || fee === null ? '' : ` plus fee ${formatAmount(fee, asset.feeDecimals)}`;
      reasons.splice(balanceAt, 0, {
        code: 'amount_exceeds_balance',
        message: `amount ${formatAmount(amount, asset.decimals)} ${asset.symbol}${fees} exceeds the hot wallet's ${availability(account, asset.decimals)}`,
      });
    }
  }

  if (asset.symbol !== NATIVE_ASSET[req.chain] && fee !== null) {
    // A token's fee is paid in the chain's own coin, from its native hot wallet.
    const native = NATIVE_ASSET[req.chain];
    const payer = ctx.feeAccount ?? null;
    if (!payer) {
      reasons.push({ code: 'fee_account_unknown', message: `no hot-wallet account holds ${native} on ${req.chain} to pay the fee of a ${asset.symbol} withdrawal` });
    } else {
      const available = payer.balance - payer.reserved;
      if (fee > available) {
        reasons.push({
          code: 'fee_exceeds_balance',
          message: `fee ${formatAmount(fee, asset.feeDecimals)} ${native} exceeds the ${native} hot wallet's ${availability(payer, asset.feeDecimals)}`,
        });
      }
    }
  }

  if (isAccountBased(req.chain)) {
    if (account) {
      if (req.nonce !== undefined && BigInt(req.nonce) !== account.nextNonce) {
        reasons.push({
          code: 'nonce_out_of_sequence',
          message: `nonce ${req.nonce} is not the account's next nonce (${account.nextNonce})`,
        });
      }
      nonce = account.nextNonce;
    }
  } else if (req.nonce !== undefined) {
    reasons.push({ code: 'nonce_not_applicable', message: `${req.chain} has no account nonce; omit the nonce field` });
  }

  if (reasons.length > 0) return { decision: reject('syntax', reasons), to, amount, fee, nonce: null };
  return { decision: pass('syntax', [{ code: 'syntax_ok', message: 'address, amount, fee and nonce are well-formed' }]), to, amount, fee, nonce };
}

/** "available balance of A (balance B, H held by withdrawals in flight)", in the account's units. */
function availability(account: Account, decimals: number): string {
  const available = account.balance - account.reserved;
  const f = (x: bigint) => formatAmount(x, decimals);
  return `available balance of ${f(available > 0n ? available : 0n)} (balance ${f(account.balance)}, ${f(account.reserved)} held by withdrawals in flight)`;
}

function reasonOf(err: unknown): Reason {
  if (isCustosError(err)) return { code: err.code, message: err.message };
  throw err;
}
