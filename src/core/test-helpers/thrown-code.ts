/**
 * Test-only: the stable `code` of the error `f` throws, or `ok` when it returns normally, so a
 * test can compare refusals by their code in one expectation.
 *
 * @example
 *   expect(thrownCode(() => verifyAuthorization(signed, opts))).toBe('authorization_expired');
 */
export function thrownCode(f: () => unknown, ok = 'accepted'): string {
  try {
    f();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return ok;
}
