/**
 * Throughput of the ODE simulators (sir, lotka_volterra): native simulate at batch 1e5 on 1 and
 * 2 threads (rows solved in 8 lockstep lanes), the one-solve-at-a-time path (odeSolution: the
 * noise-free solve only, 1 thread), and the TypeScript oracles of test/oracles/ (RK4 with a fixed
 * step) measured in the same run. θ are prior draws. CPU seconds are reported next to wall time
 * because the machines this runs on are often shared.
 *
 *   npx tsx bench/ode.ts [--quick]
 */
import os from 'node:os';
import { native } from '../src/native.js';
import { NativeSimulator } from '../src/simulators/simulator.js';
import { Rng } from '../test/oracles/rng.js';
import { simulateSir } from '../test/oracles/sir.js';
import { simulateLotkaVolterra } from '../test/oracles/lotka_volterra.js';

const quick = process.argv.includes('--quick');
const BATCH = quick ? 1e4 : 1e5;
const TASKS = [
  { name: 'sir', loc: [Math.log(0.4), Math.log(0.125)], scale: [0.5, 0.2], summaryDim: 10, oracle: simulateSir },
  {
    name: 'lotka_volterra', loc: [-0.125, -3, -0.125, -3], scale: [0.5, 0.5, 0.5, 0.5], summaryDim: 20,
    oracle: simulateLotkaVolterra,
  },
];

function priorDraws(loc: number[], scale: number[], n: number): Float64Array {
  const rng = new Rng(1);
  return Float64Array.from({ length: n * loc.length }, (_, i) => Math.exp(loc[i % loc.length]! + scale[i % loc.length]! * rng.normal()));
}

/** Best of `repeats` runs: rows per second of wall time and CPU microseconds per row. */
function measure(rows: number, repeats: number, fn: () => void): { rate: number; cpuUs: number } {
  let best = { rate: 0, cpuUs: Infinity };
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    const cpuUs = (c.user + c.system) / rows;
    if (rows / wall > best.rate) best = { rate: rows / wall, cpuUs };
  }
  return best;
}

const fmt = (m: { rate: number; cpuUs: number }) => `${(m.rate / 1e3).toFixed(1)} k/s (${m.cpuUs.toFixed(1)} µs CPU)`;
const repeats = quick ? 1 : 3;
const lines = [
  '| task | native 2 threads | native 1 thread | one solve at a time (odeSolution, no noise) | TypeScript oracle |',
  '|---|---:|---:|---:|---:|',
];
for (const t of TASKS) {
  const sim = new NativeSimulator(t.name);
  const theta = priorDraws(t.loc, t.scale, BATCH);
  sim.simulateSync(theta.subarray(0, 1000 * t.loc.length), { seed: 1 }); // warm-up
  const two = measure(BATCH, repeats, () => sim.simulateSync(theta, { seed: 2, threads: 2 }));
  const one = measure(BATCH, repeats, () => sim.simulateSync(theta, { seed: 2, threads: 1 }));
  const nSolo = BATCH / 10;
  const out = new Float64Array(nSolo * t.summaryDim);
  const solo = measure(nSolo, repeats, () => native.odeSolution(t.name, theta.subarray(0, nSolo * t.loc.length), nSolo, undefined, undefined, out));
  const nOracle = quick ? 200 : 1000;
  t.oracle(theta.subarray(0, 100 * t.loc.length), 100, 3); // JIT warm-up
  const oracle = measure(nOracle, repeats, () => t.oracle(theta.subarray(0, nOracle * t.loc.length), nOracle, 3));
  lines.push(`| ${t.name} | ${fmt(two)} | ${fmt(one)} | ${fmt(solo)} | ${fmt(oracle)} |`);
}
const info = native.runtimeInfo();
console.log(`${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} cores, ${info.activeIsa} path, batch ${BATCH}, best of ${repeats}; load average ${os.loadavg()[0]!.toFixed(1)}\n`);
console.log(lines.join('\n'));
