/**
 * JSON schemas of the public API (TypeBox: one definition gives the JSON Schema the server
 * validates with and the TypeScript type the client SDK uses).
 *
 * @example
 *   const body: WithdrawalRequestBody = { chain: 'bitcoin', asset: 'BTC', to: 'bc1q…', amount: '0.25' };
 */
import { Type, type Static } from '@sinclair/typebox';
import { CHAINS } from '../core/chain.js';
import { STAGES } from '../core/decision.js';
import { WITHDRAWAL_STATUSES } from '../core/withdrawal.js';

const literals = <T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });

export const WithdrawalRequestSchema = Type.Object(
  {
    chain: literals(CHAINS),
    asset: Type.String({ pattern: '^[A-Z0-9]{2,12}$', description: 'asset symbol, e.g. ETH, USDC, BTC, SOL' }),
    to: Type.String({ minLength: 1, maxLength: 128, description: 'destination address' }),
    amount: Type.String({ minLength: 1, maxLength: 100, description: 'decimal string in asset units, e.g. "0.25"' }),
    fee: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: "maximum total network fee in the chain's native asset; defaults to the fee policy" }),
    ),
    nonce: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'account-based chains: must be the next nonce' })),
    memo: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false, $id: 'WithdrawalRequest' },
);
export type WithdrawalRequestBody = Static<typeof WithdrawalRequestSchema>;

export const ReasonSchema = Type.Object({ code: Type.String(), message: Type.String(), weight: Type.Optional(Type.Number()) });
/** Stages may add their own detail (risk score, policy version, reference value, approval requirement). */
export const DecisionSchema = Type.Object(
  {
    stage: literals(STAGES),
    outcome: literals(['pass', 'reject', 'review', 'block'] as const),
    reasons: Type.Array(ReasonSchema),
    score: Type.Optional(Type.Number()),
    route: Type.Optional(Type.String()),
    policyVersion: Type.Optional(Type.Integer()),
    referenceValue: Type.Optional(Type.String()),
    approval: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: true },
);

export const WithdrawalSchema = Type.Object(
  {
    id: Type.String(),
    status: literals(WITHDRAWAL_STATUSES),
    customerId: Type.String(),
    chain: literals(CHAINS),
    asset: Type.String(),
    to: Type.String(),
    amount: Type.String({ description: 'as normalised decimal, or as submitted when it could not be parsed' }),
    fee: Type.Union([Type.String(), Type.Null()]),
    nonce: Type.Union([Type.String(), Type.Null()]),
    memo: Type.Union([Type.String(), Type.Null()]),
    decisions: Type.Array(DecisionSchema),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    transaction: Type.Optional(
      Type.Union([
        Type.Object({
          hash: Type.String({ description: 'the chain transaction hash (Ethereum 0x…, Bitcoin txid, Solana signature)' }),
          signers: Type.Array(Type.String(), { description: 'the signing nodes that took part' }),
          signedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          broadcastAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          confirmations: Type.Union([Type.String(), Type.Null()]),
        }),
        Type.Null(),
      ], { description: 'the signed transaction once there is one, else null (GET by id and list pages)' }),
    ),
  },
  { $id: 'Withdrawal' },
);
export type WithdrawalBody = Static<typeof WithdrawalSchema>;

export const WithdrawalPageSchema = Type.Object({
  items: Type.Array(Type.Ref('Withdrawal')),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type WithdrawalPage = { items: WithdrawalBody[]; nextCursor: string | null };

export const ListQuerySchema = Type.Object(
  {
    status: Type.Optional(literals(WITHDRAWAL_STATUSES)),
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,2}$' })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** RFC 9457 problem details, with custos' stable `code`. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    withdrawal: Type.Optional(Type.Ref('Withdrawal')),
  },
  { $id: 'Problem', additionalProperties: true },
);
export type ProblemBody = Static<typeof ProblemSchema> & { withdrawal?: WithdrawalBody };
