import { describe, expect, it } from 'vitest';
import { failureLine } from './local-cluster.js';

describe('failureLine', () => {
  it('names the coded refusal, else the uncaught error, never the Node.js version footer', () => {
    expect(failureLine('attestation_measurement: node node-3 got no sealing key\n')).toBe('attestation_measurement: node node-3 got no sealing key');
    expect(failureLine('some log\nerror (node_bad_config): unknown CUSTOS_NODE_TEST_HOOK\n')).toBe('error (node_bad_config): unknown CUSTOS_NODE_TEST_HOOK');
    const crash = 'file:///x/dist/mpc/node/process.js:12\n  throw e;\n  ^\n\nSyntaxError: Unexpected end of input\n    at ModuleLoader (node:internal/modules/esm/loader:1)\n\nNode.js v20.20.2\n';
    expect(failureLine(crash)).toBe('SyntaxError: Unexpected end of input');
    expect(failureLine('just this\n\nNode.js v20.20.2\n')).toBe('just this');
    expect(failureLine('')).toBe('');
  });
});
