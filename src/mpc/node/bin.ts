/**
 * Stand-alone entry of a signing node (`node dist/mpc/node/bin.js --id N --data-dir DIR --port P`),
 * the same code as `custos mpc-node`; the local cluster helper spawns it so node processes load
 * only the node's modules.
 *
 * Sealing key: key release with CUSTOS_KEY_RELEASE_URL and CUSTOS_ENCLAVE_TRUST_DIR (development
 * enclave), otherwise the DEVELOPMENT FALLBACK CUSTOS_NODE_PASSPHRASE (see process.ts).
 *
 * @example
 *   CUSTOS_KEY_RELEASE_URL=http://127.0.0.1:7400 CUSTOS_ENCLAVE_TRUST_DIR=.custos node dist/mpc/node/bin.js --id node-1 --data-dir ./n1 --port 0
 */
import { parseArgs } from 'node:util';
import { mpcNodeMain } from './process.js';

const { values } = parseArgs({
  options: { id: { type: 'string' }, 'data-dir': { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, tls: { type: 'boolean' }, enrol: { type: 'boolean' },
    'rotate-tls': { type: 'boolean' }, 'activate-tls': { type: 'boolean' }, json: { type: 'boolean' },
  },
});
if (!values.id || !values['data-dir']) {
  console.error('usage: bin.js --id N --data-dir DIR [--port P] [--host 127.0.0.1] [--tls] [--enrol | --rotate-tls | --activate-tls] [--json]');
  process.exit(2);
}
mpcNodeMain({ id: values.id, dataDir: values['data-dir'], port: Number(values.port ?? 0), ...(values.host ? { host: values.host } : {}), tls: values.tls === true, enrol: values.enrol === true,
  rotateTls: values['rotate-tls'] === true, activateTls: values['activate-tls'] === true, json: values.json === true,
}).catch((err: unknown) => {
  const code = (err as { code?: unknown }).code;
  console.error(`${typeof code === 'string' ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
