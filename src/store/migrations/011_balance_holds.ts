/**
 * Balance holds: a withdrawal that passes the pipeline (approved, or waiting for review or
 * approval) holds its amount, plus its fee where the asset is the chain's own coin, on its
 * hot-wallet account until it leaves: `accounts.reserved` is the sum held, `withdrawals.held` what
 * each one holds. Stage 1 checks an amount against the available balance (balance − reserved),
 * so concurrent withdrawals cannot together promise more than the wallet holds. A rejected or
 * failed withdrawal releases its hold; a confirmed one takes it from the balance
 * (src/store/withdrawals.ts transitionWithdrawal). Withdrawals in flight before this migration
 * are counted in.
 */
export const version = 11;
export const name = 'balance_holds';
export const sql = `
ALTER TABLE accounts ADD COLUMN reserved numeric(78,0) NOT NULL DEFAULT 0 CHECK (reserved >= 0);
ALTER TABLE withdrawals ADD COLUMN held numeric(78,0) NOT NULL DEFAULT 0 CHECK (held >= 0);
UPDATE withdrawals SET held = amount + CASE WHEN asset IN ('ETH', 'BTC', 'SOL') AND fee IS NOT NULL THEN fee ELSE 0 END
 WHERE status IN ('in_review', 'awaiting_approval', 'approved', 'signing', 'signed', 'broadcast')
   AND account_id IS NOT NULL AND amount IS NOT NULL;
UPDATE accounts a SET reserved = s.total
  FROM (SELECT account_id, sum(held) AS total FROM withdrawals WHERE held > 0 GROUP BY account_id) AS s
 WHERE a.id = s.account_id;
`;
