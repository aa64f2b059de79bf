/** The median wall time of `n` calls after one warm-up call, in seconds: how every contender is timed. */
export async function medianSeconds(fn: () => Promise<void>, n: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}
