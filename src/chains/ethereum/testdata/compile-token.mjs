// Regenerates test-token.json from TestToken.sol with the solcjs that hardhat@2 ships (solc 0.8.26).
// Run: node src/chains/ethereum/testdata/compile-token.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { URL } from 'node:url';

const solc = createRequire(import.meta.url)('solc');
const source = readFileSync(new URL('./TestToken.sol', import.meta.url), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'TestToken.sol': { content: source } },
  settings: { optimizer: { enabled: true, runs: 200 }, outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors ?? []) if (e.severity === 'error') throw new Error(e.formattedMessage);
const c = out.contracts['TestToken.sol'].TestToken;
const json = { compiler: solc.version(), abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
writeFileSync(new URL('./test-token.json', import.meta.url), JSON.stringify(json, null, 1) + '\n');
