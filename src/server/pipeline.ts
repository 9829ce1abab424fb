/**
 * Maps items through an async function with a bounded number in flight, keeping input order.
 * Used for model work: while one image is in the model, the next is decoded and resized, so the
 * cores never wait on preprocessing. The first failure stops new work and is thrown.
 */
export async function mapInOrder<T, R>(
  items: readonly T[],
  inFlight: number,
  work: (item: T, index: number) => Promise<R>,
  onDone?: (completed: number) => void,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let completed = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failed = true;
        throw error;
      }
      onDone?.(++completed);
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(inFlight, items.length)) }, lane);
  const settled = await Promise.allSettled(lanes);
  const rejection = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejection) throw rejection.reason;
  return results;
}
