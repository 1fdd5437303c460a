/**
 * Sanctions lists (OFAC SDN digital-currency addresses, one JSON array of strings per list) and a
 * Set-backed index. Entries are normalised (Ethereum hex to lowercase, bech32 to lowercase) and
 * assigned to the chain custos supports that their shape belongs to: the list name gives the
 * expected chain (ETH/USDT/USDC → ethereum, XBT → bitcoin); an entry of another recognisable shape
 * is indexed under that shape's chain, because the same key controls it there (the USDT list holds
 * Omni addresses in Bitcoin form, the ARB/BSC/ETC lists hold EVM addresses). Entries of chains
 * custos does not support (Tron, Monero, ...) are counted as skipped.
 *
 * @example
 *   const { entries } = parseSanctionsList(JSON.parse(text), 'ETH');
 *   const index = new SanctionsIndex(entries);
 *   index.lookup('ethereum', '0x01E2919679362DFBC9EE1644BA9C6DA6D6245BB1'); // ['ETH']
 */
import type { Chain } from '../core/chain.js';
import { CustosError } from '../core/errors.js';
import { normalizeAddress } from './address.js';

/** Chains of the OFAC list names custos maps. */
export const SANCTIONS_LIST_CHAINS: Readonly<Record<string, Chain>> = {
  ETH: 'ethereum',
  USDT: 'ethereum',
  USDC: 'ethereum',
  ARB: 'ethereum',
  BSC: 'ethereum',
  ETC: 'ethereum',
  XBT: 'bitcoin',
  BTC: 'bitcoin',
  SOL: 'solana',
};

export interface SanctionsEntry {
  chain: Chain;
  address: string; // normalised
  list: string;
}

export interface ParsedSanctionsList {
  entries: SanctionsEntry[];
  skipped: number; // entries of chains custos does not support
}

/** Largest list accepted (the whole OFAC set is under a thousand entries). */
export const MAX_SANCTIONS_ENTRIES = 1_000_000;
const MAX_ENTRY_CHARS = 128;

const EVM = /^0x[0-9a-fA-F]{40}$/;
const BTC_BASE58 = /^[13mn2][1-9A-HJ-NP-Za-km-z]{25,34}$/;
const BTC_BECH32 = /^(bc1|tb1|bcrt1)[02-9ac-hj-np-z]{8,87}$/i;
const SOL_BASE58 = /^[1-9A-HJ-NP-Za-km-z]{32,44}$/;
const LIST_NAME = /^[A-Z0-9_]{1,16}$/;

function shapeChain(address: string, listChain: Chain | undefined): Chain | null {
  if (listChain === 'solana' && SOL_BASE58.test(address)) return 'solana';
  if (EVM.test(address)) return 'ethereum';
  if (BTC_BECH32.test(address) || BTC_BASE58.test(address)) return 'bitcoin';
  return null;
}

/** Parses one list (the parsed JSON value) named like the OFAC file suffix ("ETH", "XBT"). */
export function parseSanctionsList(json: unknown, listName: string): ParsedSanctionsList {
  if (typeof listName !== 'string' || !LIST_NAME.test(listName)) {
    throw new CustosError('sanctions_list_name_invalid', 'sanctions list name must be 1 to 16 capital letters or digits', 422);
  }
  if (!Array.isArray(json)) {
    throw new CustosError('sanctions_list_invalid', `sanctions list ${listName} must be a JSON array of address strings`, 422);
  }
  if (json.length > MAX_SANCTIONS_ENTRIES) {
    throw new CustosError('sanctions_list_too_large', `sanctions list ${listName} has more than ${MAX_SANCTIONS_ENTRIES} entries`, 422);
  }
  const listChain = SANCTIONS_LIST_CHAINS[listName];
  const entries: SanctionsEntry[] = [];
  let skipped = 0;
  for (const [i, raw] of json.entries()) {
    if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_ENTRY_CHARS || raw.trim() !== raw) {
      throw new CustosError('sanctions_list_invalid', `sanctions list ${listName} entry ${i} is not an address string`, 422);
    }
    const chain = shapeChain(raw, listChain);
    if (chain === null) {
      skipped += 1;
      continue;
    }
    entries.push({ chain, address: normalizeAddress(chain, raw), list: listName });
  }
  return { entries, skipped };
}

/** The list name of an OFAC file name ("sanctioned_addresses_ETH.json" → "ETH"), or null. */
export function sanctionsListName(fileName: string): string | null {
  const m = /(?:^|[\\/])sanctioned_addresses_([A-Z0-9_]{1,16})\.json$/.exec(fileName);
  return m ? m[1]! : null;
}

/** Set lookups per chain; one address may be on several lists. */
export class SanctionsIndex {
  private readonly byChain = new Map<Chain, Map<string, string[]>>();

  constructor(entries: Iterable<SanctionsEntry> = []) {
    for (const e of entries) this.add(e);
  }

  add(entry: SanctionsEntry): void {
    let chainMap = this.byChain.get(entry.chain);
    if (!chainMap) {
      chainMap = new Map();
      this.byChain.set(entry.chain, chainMap);
    }
    const key = normalizeAddress(entry.chain, entry.address);
    const lists = chainMap.get(key);
    if (!lists) chainMap.set(key, [entry.list]);
    else if (!lists.includes(entry.list)) lists.push(entry.list);
  }

  /** The lists naming this address (normalised before lookup); empty when it is on none. */
  lookup(chain: Chain, address: string): readonly string[] {
    return this.byChain.get(chain)?.get(normalizeAddress(chain, address)) ?? [];
  }

  has(chain: Chain, address: string): boolean {
    return this.lookup(chain, address).length > 0;
  }

  /** Distinct (chain, address) pairs. */
  get size(): number {
    let n = 0;
    for (const m of this.byChain.values()) n += m.size;
    return n;
  }
}
