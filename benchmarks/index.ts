// All benchmarks `halab bench` knows, loaded lazily.
import { registerBenchmark } from './bench.ts';

registerBenchmark('bringup', async () => (await import('./bringup/bench.ts')).bringupBenchmark);
registerBenchmark('load-calibration', async () => (await import('./load-calibration/bench.ts')).calibrationBenchmark);
registerBenchmark('toxiproxy', async () => (await import('./toxiproxy/bench.ts')).toxiproxyBenchmark);
registerBenchmark('vm-boot', async () => (await import('./vm-boot/bench.ts')).vmBootBenchmark);
registerBenchmark('availability-model', async () => (await import('./availability-model/bench.ts')).availabilityModelBenchmark);
registerBenchmark('nmt-recovery', async () => (await import('./nmt-recovery/bench.ts')).nmtRecoveryBenchmark);
