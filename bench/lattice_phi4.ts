// φ⁴ at the tutorial's point (arXiv:2101.08176: L = 8, m² = −4, λ = 8, χ₂ ≈ 0.75): the native
// HMC baseline on 1 and 2 threads (same chains, so the same χ₂), with χ₂ ± error, τ_int of M²/V
// and acceptance. Flow-based independence Metropolis is not built yet (docs/lattice.md).
//   npm run bench:lattice [-- trajectories-per-chain]
import { Phi4Action, dropBurnIn, hmc, twoPointSusceptibility } from '../src/lattice/index.js';
import { machineDescription, replaceReadmeBlock, writeResults } from './common.js';

const steps = Number(process.argv[2] ?? 20000);
const chains = 8;
const burnIn = 500;
const target = new Phi4Action({ L: 8, m2: -4, lambda: 8 });
const settings = { seed: 1, steps, chains, leapfrogSteps: 10, stepSize: 0.1 };

const rows = [1, 2].map((threads) => {
  const t0 = performance.now();
  const r = hmc(target, { ...settings, threads });
  const seconds = (performance.now() - t0) / 1000;
  const chi = twoPointSusceptibility(dropBurnIn(r.magnetization, chains, burnIn), target.sites, chains);
  return { threads, seconds, trajectoriesPerSecond: (chains * steps) / seconds, acceptance: r.acceptance, chi2: chi };
});
const [one, two] = rows as [typeof rows[0], typeof rows[0]];
const result = {
  machine: machineDescription(), date: new Date().toISOString().slice(0, 10),
  target: { L: 8, m2: -4, lambda: 8 }, hmc: { ...settings, burnIn, stepJitter: 0.2 }, rows,
  speedup2Threads: one.seconds / two.seconds,
};
writeResults('lattice_phi4.json', result);
const f = (x: number, d = 3) => x.toFixed(d);
const table = [
  `Measured ${result.date} on ${result.machine}. HMC: ${chains} chains × ${steps} trajectories (${burnIn} burn-in each), ` +
    `${settings.leapfrogSteps} leapfrog steps of ${settings.stepSize} (jitter 0.2). Reference χ₂ = 0.75 ± 0.01 (arXiv:2101.08176).`,
  '',
  '| sampler | threads | acceptance | χ₂ | τ_int(M²/V) | trajectories/s | time (s) | speed-up vs 1 thread |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| HMC | ${r.threads} | ${f(r.acceptance)} | ${f(r.chi2.value)} ± ${f(r.chi2.error)} | ${f(r.chi2.tau, 2)} ± ${f(r.chi2.tauError, 2)} | ` +
    `${r.trajectoriesPerSecond.toFixed(0)} | ${f(r.seconds, 2)} | ${f(one.seconds / r.seconds, 2)} |`),
  '| flow-based independence Metropolis | | not built yet | | | | | |',
].join('\n');
replaceReadmeBlock('lattice-phi4', `## φ⁴ lattice (issue 5) — \`npm run bench:lattice\`\n\n${table}`);
console.log(table);
