/**
 * Throughput of the physics simulators (galton_board, weinberg): native kernel at batch 1e6 with
 * 1 and 2 threads, with and without gold, against the TypeScript oracle (test/oracles/) measured
 * in the same run. Best of `REPEATS` runs (the machine may be shared). Usage: npx tsx bench/physics.ts
 */
import { NativeSimulator } from '../src/simulators/simulator.js';
import { runtimeInfo } from '../src/runtime.js';
import { Z_MASS } from '../src/physics/weinberg.js';
import { galtonSimulate } from '../test/oracles/galton_board.js';
import { weinbergSimulate } from '../test/oracles/weinberg.js';

const N = 1_000_000;
const ORACLE_N = 200_000;
const REPEATS = 3;

function bestSeconds(run: () => void): number {
  let best = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = process.hrtime.bigint();
    run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return best;
}

interface Row {
  simulator: string;
  implementation: string;
  threads: number;
  gold: string;
  simsPerSecond: number;
}

const rows: Row[] = [];
const cases = [
  { name: 'galton_board', theta: 0.3, design: undefined, oracle: (n: number) => galtonSimulate(0.3, n, 1) },
  { name: 'weinberg', theta: 0.2312, design: [Z_MASS], oracle: (n: number) => weinbergSimulate(0.2312, Z_MASS, n, 1) },
];
for (const c of cases) {
  const sim = new NativeSimulator(c.name);
  const theta = new Float64Array(N).fill(c.theta);
  for (const threads of [1, 2]) {
    for (const gold of ['none', 'll+score', 'll+score+ratio'] as const) {
      const options = {
        seed: 1,
        threads,
        ...(c.design ? { design: c.design } : {}),
        ...(gold === 'll+score' ? { gold: true } : {}),
        ...(gold === 'll+score+ratio' ? { thetaRef: Float64Array.of(c.theta + 0.05) } : {}),
      };
      const s = bestSeconds(() => sim.simulateSync(theta, options));
      rows.push({ simulator: c.name, implementation: 'native', threads, gold, simsPerSecond: N / s });
    }
  }
  const s = bestSeconds(() => c.oracle(ORACLE_N));
  rows.push({
    simulator: c.name, implementation: 'TS oracle', threads: 1,
    gold: c.name === 'galton_board' ? 'll+score' : 'none', simsPerSecond: ORACLE_N / s,
  });
}

const info = runtimeInfo();
console.log(`ISA ${info.activeIsa}, ${info.hardwareThreads} hardware threads; native batch ${N}, oracle batch ${ORACLE_N}, best of ${REPEATS}`);
console.log('| simulator | implementation | threads | gold | sims/s |');
console.log('|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.simulator} | ${r.implementation} | ${r.threads} | ${r.gold} | ${(r.simsPerSecond / 1e6).toFixed(2)} M |`);
}
