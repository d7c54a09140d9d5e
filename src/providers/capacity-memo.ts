/** Registration shapes remembered per provider; past this the memo starts over (a bound on memory). */
const MAX_SHAPES = 4096;

/**
 * A provider's payload capacity per registration shape: what `payloadCapacity` computes depends on a
 * few fields of a registration only (its account, and for APNs whether it has a PushKit token), and is
 * asked on every encrypted publish. Building and serialising the probe pushes once per shape instead
 * of per publish; the values are exactly those of the computation.
 */
export class CapacityMemo {
  private readonly shapes = new Map<string, number>();

  /** The capacity of the shape (`variant`, `account`), computed by `compute` the first time. */
  get(variant: number, account: string, compute: () => number): number {
    const key = `${variant}:${account}`;
    const known = this.shapes.get(key);
    if (known !== undefined) return known;
    const capacity = compute();
    if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
    this.shapes.set(key, capacity);
    return capacity;
  }
}
