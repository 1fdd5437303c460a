/**
 * `custos_fail(code, detail)`: raises SQLSTATE P0001 with `code` as the message and `detail` as
 * the detail, so one data-modifying statement can refuse a row it cannot write (the intake's
 * write: a client-supplied nonce that is not the one the account row hands out under its lock).
 * The statement and the transaction fail as a whole; nothing of them is kept. The caller maps the
 * code to its error (src/store/intake-batch.ts).
 */
export const version = 10;
export const name = 'statement_refusal';
export const sql = `
CREATE FUNCTION custos_fail(code text, detail text) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = code, DETAIL = detail;
END
$fn$;
`;
