// All benchmarks `halab bench` knows, loaded lazily.
import { registerBenchmark } from './bench.ts';

registerBenchmark('bringup', async () => (await import('./bringup/bench.ts')).bringupBenchmark);
