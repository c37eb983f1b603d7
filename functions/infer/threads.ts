/**
 * How many ggml threads to run. ggml threads busy-wait, so more threads than free cores slows generation by orders of
 * magnitude; the count never exceeds the cores this process can use.
 */
export const lambdaMbPerVcpu = 1769;

export function inferenceThreads(options: {
  configured?: number;
  lambdaMemoryMb?: number;
  availableCores: number;
}): number {
  const cores = Math.max(1, options.availableCores);
  if (options.configured !== undefined) return Math.min(Math.max(1, options.configured), cores);
  if (options.lambdaMemoryMb !== undefined) {
    return Math.min(Math.max(1, Math.floor(options.lambdaMemoryMb / lambdaMbPerVcpu)), cores);
  }
  return cores;
}
