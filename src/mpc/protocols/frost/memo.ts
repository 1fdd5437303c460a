/**
 * A small bounded memo (insertion-ordered Map, oldest entry evicted first) for values derived only
 * from public bytes: validated points, public-polynomial evaluations, signing values. Never used
 * for anything secret.
 *
 * @example
 *   const points = new Memo<Point>(4096);
 *   const p = points.get(hex, () => decodeAndValidate(hex));
 */
export class Memo<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}

  get(key: string, make: () => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    const v = make();
    this.put(key, v);
    return v;
  }

  put(key: string, v: V): void {
    if (this.map.size >= this.limit && !this.map.has(key)) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, v);
  }
}
