/**
 * Indexes the intake's context load needs (src/store/intake-batch.ts): a customer's credentials
 * (latest change for the risk stage's "credentials changed recently" signal) were found by a scan
 * of every credential; with 10,000 customers that scan was most of the load's time.
 */
export const version = 8;
export const name = 'intake_indexes';
export const sql = `
CREATE INDEX credentials_by_customer ON credentials (customer_id, created_at);
`;
