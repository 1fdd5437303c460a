/**
 * The last block height at which a withdrawal's Solana transaction can land
 * (`lastValidBlockHeight` of the blockhash it was built with, from `getLatestBlockhash`). It is not
 * part of the signed bytes, so the signing worker stores it with the plan; the broadcast worker
 * fails a transaction the chain never took once the chain is past that height. Null on other
 * chains and for transactions signed before this column existed (no expiry is detected for them).
 */
export const version = 9;
export const name = 'solana_lifetime';
export const sql = `
ALTER TABLE withdrawal_transactions ADD COLUMN last_valid_block_height bigint CHECK (last_valid_block_height >= 0);
`;
