/**
 * Simulator throughput: simulations per second per task for the native kernels on 1 and 2
 * threads, next to a straightforward TypeScript implementation of the same task (the test
 * oracle in test/oracles/) measured in the same run. Prints a table, writes
 * bench/results/simulators.json and the table into bench/README.md.
 *
 *   npm run bench:simulators [-- --quick]
 */
import { getTask, listTasks } from '../src/tasks/index.js';
import { runtimeInfo } from '../src/runtime.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';
import { ORACLES } from '../test/oracles/index.js';

const quick = process.argv.includes('--quick');

// Targets from the foundation issue (2-core machine, simulations per second on 2 threads).
const TARGETS: Record<string, number> = {
  two_moons: 100e6,
  slcp: 15e6,
  sir: 100e3,
  lotka_volterra: 100e3,
};

// ODE tasks and the 100-dim tasks are expensive per row: smaller batches.
const BATCH: Record<string, number> = { sir: 1e5, lotka_volterra: 1e5, slcp_distractors: 1e5, bernoulli_glm: 1e5, bernoulli_glm_raw: 1e5 };

// Best wall time of `repeats` runs, and the process CPU time of that run (on a shared machine
// CPU time per row is the steadier figure for single-thread runs).
function timeBest(fn: () => void, repeats: number): number {
  return timeBestWithCpu(fn, repeats).wall;
}
function timeBestWithCpu(fn: () => void, repeats: number): { wall: number; cpu: number } {
  let best = { wall: Infinity, cpu: Infinity };
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    if (wall < best.wall) best = { wall, cpu: (c.user + c.system) / 1e6 };
  }
  return best;
}

interface Row {
  task: string;
  batch: number;
  native1: number;
  cpuMicrosPerRow: number;
  native2: number;
  /** 2 threads with gold (joint log-likelihood, score, log-ratio), for simulators that have it */
  nativeGold2?: number;
  oracleBatch: number;
  oracle: number;
  speedup: number;
  target?: number;
  met?: boolean;
}

const rows: Row[] = [];
for (const def of listTasks()) {
  const task = getTask(def.name);
  const batch = Math.round((BATCH[def.name] ?? 1e6) / (quick ? 10 : 1));
  const theta = task.prior.sample(batch, { seed: 1 });
  const design = task.defaultDesign.length ? task.defaultDesign : undefined;
  const opts = { seed: 2, ...(design ? { design } : {}) };
  const repeats = quick ? 1 : 3;
  task.simulator.simulateSync(theta.subarray(0, Math.min(batch, 1000) * def.thetaDim), opts); // warm-up
  const one = timeBestWithCpu(() => task.simulator.simulateSync(theta, { ...opts, threads: 1 }), repeats);
  const t1 = one.wall;
  const t2 = timeBest(() => task.simulator.simulateSync(theta, { ...opts, threads: 2 }), repeats);
  const thetaRef = theta.subarray(0, def.thetaDim);
  const tGold = def.gold
    ? timeBest(() => task.simulator.simulateSync(theta, { ...opts, threads: 2, gold: true, thetaRef }), repeats)
    : NaN;
  const oracle = ORACLES[def.name];
  let oracleRate = NaN;
  let oracleBatch = 0;
  if (oracle) {
    oracleBatch = Math.max(1000, Math.round(batch / 10));
    const th = theta.subarray(0, oracleBatch * def.thetaDim);
    oracle(th, oracleBatch, 3, design); // warm-up (JIT)
    oracleRate = oracleBatch / timeBest(() => oracle(th, oracleBatch, 3, design), repeats);
  }
  const target = TARGETS[def.name];
  const row: Row = {
    task: def.name,
    batch,
    native1: batch / t1,
    cpuMicrosPerRow: (one.cpu / batch) * 1e6,
    native2: batch / t2,
    ...(def.gold ? { nativeGold2: batch / tGold } : {}),
    oracleBatch,
    oracle: oracleRate,
    speedup: batch / t2 / oracleRate,
    ...(target !== undefined ? { target, met: batch / t2 >= target } : {}),
  };
  rows.push(row);
  console.error(`${def.name}: done`);
}

const fmt = (v: number) =>
  !Number.isFinite(v) ? 'n/a' : v >= 1e6 ? `${(v / 1e6).toFixed(1)} M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} k` : v.toFixed(0);
const machine = machineDescription();
const header = '| task | batch | native 1 thread | CPU µs/row (1T) | native 2 threads | 2T with gold | TypeScript (1 thread) | native 2T / TS | target (2T) | met |';
const sep = '|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|';
const lines = rows.map(
  (r) =>
    `| ${r.task} | ${r.batch.toExponential(0)} | ${fmt(r.native1)}/s | ${r.cpuMicrosPerRow.toPrecision(3)} | ${fmt(r.native2)}/s | ${r.nativeGold2 ? fmt(r.nativeGold2) + '/s' : '—'} | ${fmt(r.oracle)}/s | ${r.speedup.toFixed(1)}× | ${r.target ? fmt(r.target) + '/s' : '—'} | ${r.met === undefined ? '—' : r.met ? 'yes' : 'no'} |`,
);
const table = [header, sep, ...lines].join('\n');
console.log(`Machine: ${machine}\n\n${table}`);

if (!quick) {
  writeResults('simulators.json', { date: new Date().toISOString(), machine, rows });
  replaceReadmeBlock('simulators', `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. Simulations per second (best of 3); the TypeScript column is the straightforward implementation in test/oracles/, measured in the same run on a tenth of the batch.\n\n${table}`);
}
