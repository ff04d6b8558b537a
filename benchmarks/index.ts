// All benchmarks `halab bench` knows, loaded lazily.
import { registerBenchmark } from './bench.ts';

registerBenchmark('bringup', async () => (await import('./bringup/bench.ts')).bringupBenchmark);
registerBenchmark('load-calibration', async () => (await import('./load-calibration/bench.ts')).calibrationBenchmark);
registerBenchmark('toxiproxy', async () => (await import('./toxiproxy/bench.ts')).toxiproxyBenchmark);
registerBenchmark('vm-boot', async () => (await import('./vm-boot/bench.ts')).vmBootBenchmark);
registerBenchmark('availability-model', async () => (await import('./availability-model/bench.ts')).availabilityModelBenchmark);
registerBenchmark('has-failover', async () => (await import('./has-failover/bench.ts')).hasFailoverBenchmark);
registerBenchmark('has-baseline', async () => (await import('./has-baseline/bench.ts')).hasBaselineBenchmark);
registerBenchmark('has-scaling', async () => (await import('./has-scaling/bench.ts')).hasScalingBenchmark);
registerBenchmark('vm-failover', async () => (await import('./vm-failover/bench.ts')).vmFailoverBenchmark);
registerBenchmark('nmt-recovery', async () => (await import('./nmt-recovery/bench.ts')).nmtRecoveryBenchmark);
