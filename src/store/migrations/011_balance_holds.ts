/**
 * Balance holds: a withdrawal that passes the pipeline (approved, or waiting for review or
 * approval) holds its amount, plus its fee where the asset is the chain's own coin, on its
 * hot-wallet account until it leaves; a token's fee is held on the chain's native account
 * (`fee_account_id`, `held_fee`). `accounts.reserved` is the sum held on an account. Stage 1
 * checks an amount (and a token's fee) against the available balance (balance − reserved), so
 * concurrent withdrawals cannot together promise more than the wallets hold. A rejected or failed
 * withdrawal releases its holds; a confirmed one takes them from the balances
 * (src/store/withdrawals.ts transitionWithdrawal). Withdrawals in flight before this migration
 * are counted in.
 */
export const version = 11;
export const name = 'balance_holds';
export const sql = `
ALTER TABLE accounts ADD COLUMN reserved numeric(78,0) NOT NULL DEFAULT 0 CHECK (reserved >= 0);
ALTER TABLE withdrawals ADD COLUMN held numeric(78,0) NOT NULL DEFAULT 0 CHECK (held >= 0);
ALTER TABLE withdrawals ADD COLUMN fee_account_id text;
ALTER TABLE withdrawals ADD COLUMN held_fee numeric(78,0) NOT NULL DEFAULT 0 CHECK (held_fee >= 0);
UPDATE withdrawals SET held = amount + CASE WHEN asset IN ('ETH', 'BTC', 'SOL') AND fee IS NOT NULL THEN fee ELSE 0 END
 WHERE status IN ('in_review', 'awaiting_approval', 'approved', 'signing', 'signed', 'broadcast')
   AND account_id IS NOT NULL AND amount IS NOT NULL;
UPDATE withdrawals w SET fee_account_id = a.id, held_fee = w.fee
  FROM accounts a
 WHERE w.status IN ('in_review', 'awaiting_approval', 'approved', 'signing', 'signed', 'broadcast')
   AND w.asset NOT IN ('ETH', 'BTC', 'SOL') AND w.fee IS NOT NULL AND a.chain = w.chain
   AND a.asset = CASE w.chain WHEN 'ethereum' THEN 'ETH' WHEN 'bitcoin' THEN 'BTC' WHEN 'solana' THEN 'SOL' END;
UPDATE accounts a SET reserved = s.total
  FROM (SELECT id, sum(h) AS total FROM (
          SELECT account_id AS id, held AS h FROM withdrawals WHERE held > 0
          UNION ALL SELECT fee_account_id, held_fee FROM withdrawals WHERE held_fee > 0) AS x GROUP BY id) AS s
 WHERE a.id = s.id;
`;
