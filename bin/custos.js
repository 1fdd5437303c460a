#!/usr/bin/env node
// Entry point of the `custos` binary: runs the compiled CLI (npm install builds it via `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
