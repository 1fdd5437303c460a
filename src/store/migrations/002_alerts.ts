/** Security alerts outbox: alerts are rows first, delivered by a dispatcher with retries. */
export const version = 2;
export const name = 'alerts';
export const sql = `
CREATE TABLE alerts_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at timestamptz NOT NULL,
  kind text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  summary text NOT NULL,
  details jsonb NOT NULL,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at timestamptz,
  last_error text
);
CREATE INDEX alerts_outbox_due ON alerts_outbox (next_attempt_at) WHERE delivered_at IS NULL;
`;
