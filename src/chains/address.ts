/**
 * Destination address validation for the syntax stage of the pipeline.
 *
 * `validateAddress` first screens the raw text the same way for every chain (empty, non-ASCII
 * look-alikes, zero-width and other invisible characters, whitespace, control bytes, length), then
 * hands it to the chain's own parser. It never throws for bad input: it answers an `AddressCheck`
 * whose `code` is stable and whose `message` is a sentence for the operator or the customer.
 *
 * Reason codes (stable):
 * - `address_empty`: the string is empty.
 * - `address_non_ascii`: a character outside US-ASCII (Cyrillic 'а', full-width digits, zero-width
 *   space U+200B, BOM, ...). Checked before anything else, over the whole string.
 * - `address_whitespace`: a space, tab or line break anywhere (also leading/trailing: nothing is trimmed).
 * - `address_control_character`: NUL or another ASCII control byte.
 * - `address_too_long`: longer than any address of that chain can be.
 * - `address_format`: not an address of that chain (wrong prefix, alphabet, length, padding, ...).
 * - `address_checksum`: well-formed but the checksum fails (EIP-55 mixed case, base58check, bech32/bech32m).
 * - `address_network`: a valid address of another network (testnet address for mainnet, ...).
 * - `address_witness_version`: Bitcoin segwit version out of range (> 16) or encoded with the wrong
 *   checksum variant for its version (BIP-350: v0 must be bech32, v1+ must be bech32m).
 * - `address_not_on_curve`: Solana, the 32 bytes are not a valid Ed25519 point (e.g. a PDA).
 * - `address_small_order`: Solana, an Ed25519 point of small order (e.g. the System Program id):
 *   no private key can ever control it.
 * - `address_zero`: Ethereum, the zero address (funds sent there are burned).
 * - `address_chain`: the chain itself is unknown (only reachable from untyped callers).
 *
 * @example
 *   const check = validateAddress('ethereum', 'mainnet', '0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed');
 *   // { ok: true, normalized: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', kind: 'account' }
 */
import type { Chain, Network } from '../core/chain.js';
import { validateBitcoinAddress } from './bitcoin/address.js';
import { validateEthereumAddress } from './ethereum/address.js';
import { validateSolanaAddress } from './solana/address.js';

export type AddressCheck =
  | { ok: true; normalized: string; kind: string }
  | { ok: false; code: string; message: string };

/** Longest address text each chain can have; anything longer is refused before parsing. */
export const MAX_ADDRESS_LENGTH: Readonly<Record<Chain, number>> = {
  ethereum: 42, // 0x + 40 hex
  bitcoin: 90, // BIP-173 overall limit for bech32; base58 addresses are at most 35
  solana: 44, // base58 of 32 bytes
};

/** Validates `address` as a destination on `chain`/`network`; never throws for any string. */
export function validateAddress(chain: Chain, network: Network, address: string): AddressCheck {
  const maxLength = Object.hasOwn(MAX_ADDRESS_LENGTH, chain) ? MAX_ADDRESS_LENGTH[chain] : undefined;
  if (maxLength === undefined) {
    return { ok: false, code: 'address_chain', message: 'This chain is not supported.' };
  }
  const screened = screenAddressText(address, maxLength);
  if (screened) return screened;
  switch (chain) {
    case 'ethereum':
      return validateEthereumAddress(address);
    case 'bitcoin':
      return validateBitcoinAddress(network, address);
    case 'solana':
      return validateSolanaAddress(address);
    default:
      return { ok: false, code: 'address_chain', message: 'This chain is not supported.' };
  }
}

/**
 * Chain-independent screening of the raw text. Returns the failure, or undefined when the text is
 * plain printable ASCII without spaces and not longer than `maxLength`.
 */
export function screenAddressText(address: unknown, maxLength: number): AddressCheck | undefined {
  if (typeof address !== 'string') {
    return { ok: false, code: 'address_format', message: 'The address must be a string.' };
  }
  if (address.length === 0) return { ok: false, code: 'address_empty', message: 'The address is empty.' };
  // One pass over the UTF-16 code units; non-ASCII is reported first wherever it is, so a
  // look-alike anywhere in the string is named as such.
  let firstSpace = -1;
  let firstControl = -1;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c > 0x7f) {
      const codePoint = address.codePointAt(i) ?? c;
      const hex = codePoint.toString(16).toUpperCase().padStart(4, '0');
      return {
        ok: false,
        code: 'address_non_ascii',
        message:
          `The address contains the non-ASCII character U+${hex} at position ${i + 1}; ` +
          'look-alike letters, full-width digits and invisible characters are not accepted.',
      };
    }
    if (firstSpace < 0 && (c === 0x20 || (c >= 0x09 && c <= 0x0d))) firstSpace = i;
    else if (firstControl < 0 && (c < 0x20 || c === 0x7f)) firstControl = i;
  }
  if (firstSpace >= 0) {
    return {
      ok: false,
      code: 'address_whitespace',
      message: `The address contains whitespace at position ${firstSpace + 1}; remove spaces and line breaks (nothing is trimmed).`,
    };
  }
  if (firstControl >= 0) {
    const hex = address.charCodeAt(firstControl).toString(16).toUpperCase().padStart(2, '0');
    return {
      ok: false,
      code: 'address_control_character',
      message: `The address contains the control character 0x${hex} at position ${firstControl + 1}.`,
    };
  }
  if (address.length > maxLength) {
    return {
      ok: false,
      code: 'address_too_long',
      message: `The address is ${address.length} characters long; at most ${maxLength} are possible.`,
    };
  }
  return undefined;
}
