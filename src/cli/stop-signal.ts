/**
 * Resolves on the first SIGINT or SIGTERM. Call it before printing a "listening" line: a supervisor
 * (or test) that stops the process as soon as it reads that line must get the clean shutdown, not
 * the default kill that a signal arriving before the handlers would mean.
 *
 * @example
 *   const stopped = stopSignal();
 *   console.log(`listening on ${url}`);
 *   await stopped;
 *   await server.close();
 */
export function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
