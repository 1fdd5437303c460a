/**
 * The OFAC SDN digital-currency address lists shipped with custos (data/sanctions, see SOURCES.md),
 * parsed into one index. `custos sanctions import FILE` refreshes them at run time.
 *
 * @example
 *   const index = bundledSanctionsIndex();
 *   index.has('bitcoin', someAddress);
 */
import { parseSanctionsList, SanctionsIndex, type SanctionsEntry } from './sanctions.js';
import listARB from './data/sanctions/sanctioned_addresses_ARB.json' with { type: 'json' };
import listBCH from './data/sanctions/sanctioned_addresses_BCH.json' with { type: 'json' };
import listBSC from './data/sanctions/sanctioned_addresses_BSC.json' with { type: 'json' };
import listBSV from './data/sanctions/sanctioned_addresses_BSV.json' with { type: 'json' };
import listBTG from './data/sanctions/sanctioned_addresses_BTG.json' with { type: 'json' };
import listDASH from './data/sanctions/sanctioned_addresses_DASH.json' with { type: 'json' };
import listETC from './data/sanctions/sanctioned_addresses_ETC.json' with { type: 'json' };
import listETH from './data/sanctions/sanctioned_addresses_ETH.json' with { type: 'json' };
import listLTC from './data/sanctions/sanctioned_addresses_LTC.json' with { type: 'json' };
import listTRX from './data/sanctions/sanctioned_addresses_TRX.json' with { type: 'json' };
import listUSDC from './data/sanctions/sanctioned_addresses_USDC.json' with { type: 'json' };
import listUSDT from './data/sanctions/sanctioned_addresses_USDT.json' with { type: 'json' };
import listXBT from './data/sanctions/sanctioned_addresses_XBT.json' with { type: 'json' };
import listXMR from './data/sanctions/sanctioned_addresses_XMR.json' with { type: 'json' };
import listXRP from './data/sanctions/sanctioned_addresses_XRP.json' with { type: 'json' };
import listXVG from './data/sanctions/sanctioned_addresses_XVG.json' with { type: 'json' };
import listZEC from './data/sanctions/sanctioned_addresses_ZEC.json' with { type: 'json' };

/** List name → addresses, as bundled. */
export const BUNDLED_SANCTIONS_LISTS: Readonly<Record<string, readonly string[]>> = {
  ARB: listARB,
  BCH: listBCH,
  BSC: listBSC,
  BSV: listBSV,
  BTG: listBTG,
  DASH: listDASH,
  ETC: listETC,
  ETH: listETH,
  LTC: listLTC,
  TRX: listTRX,
  USDC: listUSDC,
  USDT: listUSDT,
  XBT: listXBT,
  XMR: listXMR,
  XRP: listXRP,
  XVG: listXVG,
  ZEC: listZEC,
};

/** Date of the bundled OFAC snapshot (0xB10C/ofac-sanctioned-digital-currency-addresses, branch lists). */
export const BUNDLED_SANCTIONS_AS_OF = '2024-09-27';

export function bundledSanctionsEntries(): SanctionsEntry[] {
  const out: SanctionsEntry[] = [];
  for (const [name, list] of Object.entries(BUNDLED_SANCTIONS_LISTS)) out.push(...parseSanctionsList(list, name).entries);
  return out;
}

export function bundledSanctionsIndex(): SanctionsIndex {
  return new SanctionsIndex(bundledSanctionsEntries());
}
